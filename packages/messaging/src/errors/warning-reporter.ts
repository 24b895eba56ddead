import { BulwarkError } from '@bulwark/resilience';

/** The `type` of the process warnings emitted for background errors nobody else listens to. */
export const bulwarkWarningType = 'BulwarkWarning';

/**
 * The default `onError` of the components that meet errors in the background (the transports'
 * lost connections, failed reconnects, unreadable messages): a process warning a person sees,
 * rather than nothing. Node prints it on stderr once per occurrence (`--no-warnings` silences it,
 * `process.on('warning')` receives it). The warning's `code` is `BULWARK_<error code>`
 * (e.g. `BULWARK_CONNECTION_FAILED`); an error without a code gets `BULWARK_BACKGROUND_ERROR`.
 *
 * @internal
 */
export function emitWarningFor(component: string): (error: Error) => void {
  return (error) => {
    const code = error instanceof BulwarkError ? error.code : 'BACKGROUND_ERROR';
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    process.emitWarning(`${component}: ${error.message}`, {
      type: bulwarkWarningType,
      code: `BULWARK_${code}`,
      ...(cause === undefined ? {} : { detail: `Caused by: ${cause}` }),
    });
  };
}
