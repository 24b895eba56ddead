import { createRequire } from 'node:module';
import type * as OpenTelemetryApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module, as the application installed it. */
export type OpenTelemetry = typeof OpenTelemetryApi;

let loaded: OpenTelemetry | null | undefined;

/**
 * The application's `@opentelemetry/api`, or `undefined` when it is not installed: it is an optional
 * peer, so it is loaded on first use (synchronously, so the first call is traced too) and never
 * at import. The API keeps its registrations on a global, so this copy sees the SDK the
 * application registered through its own import of the package.
 */
export function openTelemetry(): OpenTelemetry | undefined {
  if (loaded === undefined) {
    try {
      // Not a bare `require`: bundlers replace it in ESM builds with a stub that always throws.
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as OpenTelemetry;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
