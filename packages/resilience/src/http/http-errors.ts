import { ResilienceError } from '../errors/resilience-error.js';

/**
 * A response whose status counts as transient (by default 408, 429 and 5xx). Inside the pipeline
 * it is what the retry and the circuit breaker see; after the last attempt `resilientFetch`
 * returns its `response` (or throws it, with `statusErrors: 'throw'`).
 */
export class HttpStatusError extends ResilienceError {
  override name = 'HttpStatusError';
  constructor(
    /** The response; its body is still unread when this error reaches the caller. */
    readonly response: Response,
    /** The request's method. */
    readonly method: string,
    /** The URL the attempt was sent to. */
    readonly url: string,
    /**
     * The delay the server asked for, from `Retry-After` (seconds or an HTTP date) or the
     * `RateLimit`/`RateLimit-Reset` headers; the retry waits this long instead of its backoff.
     */
    readonly retryAfterMs: number | undefined,
  ) {
    super(
      'HTTP_STATUS',
      `${method} ${url} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
    );
  }

  /** The response's status code. */
  get status(): number {
    return this.response.status;
  }

  /** The response's headers. */
  get headers(): Headers {
    return this.response.headers;
  }
}

/**
 * A request would have been retried (or hedged), but its body was a stream larger than
 * `maxBufferedBodyBytes`, so it was sent once and cannot be sent again. `cause` is the failure of
 * the attempt that was sent.
 */
export class RequestBodyNotReplayableError extends ResilienceError {
  override name = 'RequestBodyNotReplayableError';
  constructor(
    /** The request's method. */
    readonly method: string,
    /** The request's URL. */
    readonly url: string,
    /** The buffering limit the body exceeded. */
    readonly maxBufferedBodyBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      'REQUEST_BODY_NOT_REPLAYABLE',
      `${method} ${url} was not retried: its body is a stream larger than maxBufferedBodyBytes (${maxBufferedBodyBytes} bytes) and was sent once already`,
      options,
    );
  }
}
