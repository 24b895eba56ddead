import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import { fingerprint as fingerprintOf } from '../fingerprint.js';
import type { IdempotencyStore } from '../idempotency-store.js';
import { renewLeaseWhileRunning } from '../lease-renewal.js';
import { parseIdempotencyKey } from './idempotency-key-header.js';

/** A response as the HTTP layer stores and replays it. */
export interface HttpIdempotentResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: Uint8Array;
}

/** What the framework adapters tell the shared core about a request. */
export interface HttpIdempotencyRequest {
  readonly method: string;
  /** The path and query string as received. */
  readonly url: string;
  /** The raw `Idempotency-Key` header value(s), if any. */
  readonly header: string | readonly string[] | undefined;
  /** The parsed body (or raw bytes), part of the default fingerprint. */
  readonly body: unknown;
  /** The client the key belongs to, from the `scope` option; `undefined` for anonymous clients. */
  readonly scope: string | undefined;
}

/** Options shared by the Fastify plugin and the Express/Connect middleware. */
export interface HttpIdempotencyOptions {
  /** Where keys and responses live. */
  store: IdempotencyStore;
  /**
   * Requests without an `Idempotency-Key` header are refused with 400 when true, handled without
   * idempotency when false.
   * @defaultValue true
   */
  required?: boolean;
  /** How long a completed response is replayed. @defaultValue 86_400_000 (24 hours) */
  ttlMs?: number;
  /**
   * How long a request in flight holds its key; a server that dies mid-request frees it after
   * this. Pick more than your slowest request.
   * @defaultValue 60_000
   */
  lockTtlMs?: number;
  /**
   * Renews the lease every third of `lockTtlMs` while the handler runs (stores with `renew`
   * only), so a request slower than `lockTtlMs` keeps its key — a retry meanwhile gets 409, not
   * a second run — while a server that dies mid-request still frees it after `lockTtlMs`.
   * @defaultValue false
   */
  renewLease?: boolean;
  /** Times lease renewals. @defaultValue `systemClock` */
  clock?: Clock;
  /** The longest key accepted (the draft suggests servers set a limit). @defaultValue 255 */
  maxKeyLength?: number;
  /**
   * Response headers stored and replayed besides the body (lower case).
   * @defaultValue `['content-type', 'location', 'content-language', 'etag', 'last-modified']`
   */
  replayHeaders?: readonly string[];
  /** Which statuses are stored; others release the key so the client may retry. @defaultValue status < 500 */
  storeStatus?: (status: number) => boolean;
  /** Prefix of the store keys. @defaultValue `'http'` */
  namespace?: string;
  /** Makes the `type` URI of problem responses. @defaultValue `urn:bulwark:idempotency:<problem>` */
  problemType?: (problem: HttpIdempotencyProblem) => string;
}

/** The problems the HTTP layer answers with, each an `application/problem+json` body. */
export type HttpIdempotencyProblem =
  | 'key-missing'
  | 'key-malformed'
  | 'key-too-long'
  | 'key-reused'
  | 'request-in-flight';

/** What the core decides for a request. */
export type HttpIdempotencyDecision =
  /** No key and none required: handle the request without idempotency. */
  | { readonly kind: 'pass' }
  /** Answer with this response (a problem or a replay) without running the handler. */
  | { readonly kind: 'respond'; readonly response: HttpIdempotentResponse }
  /** Run the handler, then call `finish` with its response (or `abandon` if none comes). */
  | {
      readonly kind: 'proceed';
      /** Stores the response (or releases the key for 5xx); call before the response goes out. */
      finish(response: HttpIdempotentResponse): Promise<void>;
      /** Releases the key: the handler failed without a response. */
      abandon(): Promise<void>;
      /**
       * The client went away while the handler runs. The key stays held, since the handler may
       * still complete its effect, and `finish` still stores its response for the client's
       * retry; only the lease stops being renewed, so a handler that never answers frees the
       * key after `lockTtlMs`. Releasing here would let the retry run the handler a second time.
       */
      detach(): void;
    };

/** The defaults of {@link HttpIdempotencyOptions}. */
export const httpIdempotencyDefaults = {
  required: true,
  ttlMs: 86_400_000,
  lockTtlMs: 60_000,
  renewLease: false,
  maxKeyLength: 255,
  replayHeaders: ['content-type', 'location', 'content-language', 'etag', 'last-modified'],
  namespace: 'http',
} as const;

/** The header that marks a replayed response. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

interface StoredHttpOutcome {
  s: number;
  h: Record<string, string | readonly string[]>;
  b: string;
}

const problemTitles: Record<HttpIdempotencyProblem, string> = {
  'key-missing': 'Idempotency-Key header missing',
  'key-malformed': 'Idempotency-Key header malformed',
  'key-too-long': 'Idempotency-Key too long',
  'key-reused': 'Idempotency-Key reused with a different request',
  'request-in-flight': 'A request with this Idempotency-Key is still in progress',
};

/**
 * The framework-neutral core of the HTTP `Idempotency-Key` layer
 * (draft-ietf-httpapi-idempotency-key-header), used by the Fastify plugin and the
 * Express/Connect middleware. Decides, for each request, whether to pass it, answer it (a
 * problem or a replay) or run it and store its response.
 */
export function httpIdempotency(options: HttpIdempotencyOptions): {
  decide(request: HttpIdempotencyRequest, signal?: AbortSignal): Promise<HttpIdempotencyDecision>;
  readonly required: boolean;
} {
  validateHttpIdempotencyOptions(options);
  const { store } = options;
  const required = options.required ?? httpIdempotencyDefaults.required;
  const ttlMs = options.ttlMs ?? httpIdempotencyDefaults.ttlMs;
  const lockTtlMs = options.lockTtlMs ?? httpIdempotencyDefaults.lockTtlMs;
  const renewLease = options.renewLease ?? httpIdempotencyDefaults.renewLease;
  const clock = options.clock ?? systemClock;
  const maxKeyLength = options.maxKeyLength ?? httpIdempotencyDefaults.maxKeyLength;
  const replayHeaders = new Set(
    (options.replayHeaders ?? httpIdempotencyDefaults.replayHeaders).map((name) => name.toLowerCase()),
  );
  const storeStatus = options.storeStatus ?? ((status: number) => status < 500);
  const namespace = options.namespace ?? httpIdempotencyDefaults.namespace;
  const problemType =
    options.problemType ?? ((problem: HttpIdempotencyProblem) => `urn:bulwark:idempotency:${problem}`);

  const problem = (
    kind: HttpIdempotencyProblem,
    status: number,
    detail: string,
    headers: Record<string, string> = {},
  ): HttpIdempotencyDecision => ({
    kind: 'respond',
    response: {
      status,
      headers: { 'content-type': 'application/problem+json', ...headers },
      body: Buffer.from(
        JSON.stringify({ type: problemType(kind), title: problemTitles[kind], status, detail }),
        'utf8',
      ),
    },
  });

  return {
    required,
    async decide(request, signal) {
      const parsed = parseIdempotencyKey(request.header, maxKeyLength);
      switch (parsed.kind) {
        case 'absent':
          return required
            ? problem(
                'key-missing',
                400,
                `${request.method} ${request.url} requires an Idempotency-Key header: send a unique value per operation (e.g. a UUID) and send the same value again when you retry it.`,
              )
            : { kind: 'pass' };
        case 'malformed':
          return problem('key-malformed', 400, `The Idempotency-Key header is malformed: ${parsed.reason}.`);
        case 'too-long':
          return problem(
            'key-too-long',
            400,
            `The Idempotency-Key is ${parsed.length} characters long; the most this server accepts is ${maxKeyLength}.`,
          );
      }
      const { key } = parsed;
      // The scope is percent-encoded so no scope can forge another's prefix with a ':'. Anonymous
      // clients (no scope) share the empty scope.
      const storeKey = `${namespace}:${encodeURIComponent(request.scope ?? '')}:${key}`;
      const requestFingerprint = fingerprintOf({
        method: request.method,
        url: request.url,
        body: request.body ?? null,
      });
      const begun = await store.begin(storeKey, requestFingerprint, lockTtlMs, { signal });
      if (begun.kind === 'existing') {
        const { record } = begun;
        if (record.fingerprint !== requestFingerprint) {
          return problem(
            'key-reused',
            422,
            'This Idempotency-Key was already used with a different request (method, URL or body). Use a new key for a new operation; reuse a key only to retry the exact same request.',
          );
        }
        if (record.status === 'in-progress') {
          return problem(
            'request-in-flight',
            409,
            'The first request with this Idempotency-Key is still being processed. Retry after a moment to get its response.',
            { 'retry-after': '1' },
          );
        }
        const stored = JSON.parse(record.outcome) as StoredHttpOutcome;
        return {
          kind: 'respond',
          response: {
            status: stored.s,
            headers: { ...stored.h, [IDEMPOTENT_REPLAYED_HEADER]: 'true' },
            body: Buffer.from(stored.b, 'base64'),
          },
        };
      }
      const { leaseToken } = begun;
      let settled = false;
      const stopRenewing = renewLease
        ? renewLeaseWhileRunning(store, storeKey, leaseToken, lockTtlMs, clock)
        : () => {};
      const release = async () => {
        // A failed release leaves the key held until the lease runs out; nothing better to do here.
        await store.release(storeKey, leaseToken).catch(() => false);
      };
      return {
        kind: 'proceed',
        async finish(response) {
          if (settled) return;
          settled = true;
          stopRenewing();
          if (!storeStatus(response.status)) {
            await release();
            return;
          }
          const headers: Record<string, string | readonly string[]> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (replayHeaders.has(name.toLowerCase()) && value !== undefined) headers[name.toLowerCase()] = value;
          }
          const outcome: StoredHttpOutcome = {
            s: response.status,
            h: headers,
            b: Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength).toString('base64'),
          };
          // If storing fails the client gets its response anyway; a retry then runs again after
          // the lease, which is the best a lost outcome allows.
          await store.complete(storeKey, leaseToken, JSON.stringify(outcome), ttlMs).catch(() => false);
        },
        async abandon() {
          if (settled) return;
          settled = true;
          stopRenewing();
          await release();
        },
        detach() {
          stopRenewing();
        },
      };
    },
  };
}

function validateHttpIdempotencyOptions(options: HttpIdempotencyOptions): void {
  const validator = new OptionsValidator('idempotency key middleware');
  const store = options?.store as Partial<IdempotencyStore> | undefined;
  if (!store || typeof store.begin !== 'function') validator.report('store must be an IdempotencyStore');
  for (const name of ['ttlMs', 'lockTtlMs', 'maxKeyLength'] as const) {
    const value = options?.[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      validator.report(`${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (options?.replayHeaders !== undefined && !Array.isArray(options.replayHeaders)) {
    validator.report('replayHeaders must be an array of header names');
  }
  validator.throwIfInvalid();
}
