import type { Dispatcher } from 'undici';
import { HttpPipeline, httpControls, type ResilientHttpControls } from '../resilient-fetch.js';
import { type ResilientFetchOptions, validateResilientFetchOptions } from '../resilient-fetch-options.js';
import { dispatchOnce, headersFromUndici, headersToUndici } from './dispatch-once.js';

/** Options of {@link resilientInterceptor}: those of `resilientFetch` but `fetch` (attempts go to the next dispatcher). */
export type ResilientInterceptorOptions = Omit<ResilientFetchOptions, 'fetch'>;

/** An undici interceptor (for `dispatcher.compose()`) with the snapshot and events of its pipeline. */
export interface ResilientInterceptor extends Dispatcher.DispatcherComposeInterceptor, ResilientHttpControls {}

/** The controller the caller's handler gets: aborting it ends every attempt and wait. */
class CallerController implements Dispatcher.DispatchController {
  readonly abortController = new AbortController();
  #paused = false;
  #resumed: (() => void) | undefined;

  get aborted(): boolean {
    return this.abortController.signal.aborted;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.aborted ? (this.abortController.signal.reason as Error) : null;
  }
  abort(reason: Error): void {
    this.abortController.abort(reason);
    this.resume();
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    this.#paused = false;
    this.#resumed?.();
    this.#resumed = undefined;
  }
  /** Resolves once the handler no longer holds the response paused. */
  whileResumed(): Promise<void> | undefined {
    if (!this.#paused) return undefined;
    return new Promise((resolve) => {
      this.#resumed = resolve;
    });
  }
}

/** Passes the pipeline's final response to the caller's handler, honouring its pause and abort. */
async function deliver(
  response: Response,
  handler: Dispatcher.DispatchHandler,
  controller: CallerController,
): Promise<void> {
  handler.onResponseStart?.(controller, response.status, headersToUndici(response.headers), response.statusText);
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      await controller.whileResumed();
      if (controller.aborted) {
        await reader.cancel(controller.reason).catch(() => {});
        throw controller.reason;
      }
      const { done, value } = await reader.read();
      if (done) break;
      handler.onResponseData?.(controller, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  }
  handler.onResponseEnd?.(controller, {});
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * An undici interceptor applying the same standard pipeline as
 * {@link @bulwark/resilience/http!resilientFetch} — rate limiter → total timeout → retry → (hedge)
 * → circuit breaker per origin → attempt timeout — to every request of a dispatcher, with the
 * same outcome classification (408, 429, 5xx and network failures), `Retry-After` and safe-retry
 * rules (POST and PATCH only with an `Idempotency-Key`). Each attempt goes to the next dispatcher;
 * the caller's handler sees only the final response (or error). `undici` is an optional peer:
 * only this entry needs it.
 *
 * @throws {@link @bulwark/resilience!InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * import { Agent, fetch, request } from 'undici';
 * const resilient = resilientInterceptor({ retry: { maxAttempts: 4 }, attemptTimeoutMs: 2_000 });
 * const dispatcher = new Agent().compose(resilient);
 * await request('https://api.example.com/orders/42', { dispatcher });
 * await fetch('https://api.example.com/orders/42', { dispatcher });
 * resilient.onStateChange(({ key, to }) => console.log(`${key} circuit ${to}`));
 * ```
 */
export function resilientInterceptor(options: ResilientInterceptorOptions = {}): ResilientInterceptor {
  validateResilientFetchOptions(options);
  const core = new HttpPipeline(options);
  const interceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (request, handler) => {
    const controller = new CallerController();
    handler.onRequestStart?.(controller, {});
    const url = new URL(request.path, request.origin);
    const send = (attemptUrl: string | URL | Request, init?: RequestInit) =>
      dispatchOnce(dispatch, request, new URL(attemptUrl instanceof Request ? attemptUrl.url : attemptUrl), init ?? {});
    const init: RequestInit = {
      method: request.method,
      headers: headersFromUndici(request.headers),
      body: (request.body ?? null) as RequestInit['body'],
      signal: controller.abortController.signal,
    };
    core
      .fetch(url, init, send)
      .then((response) => deliver(response, handler, controller))
      .catch((error: unknown) => {
        handler.onResponseError?.(controller, asError(controller.reason ?? error));
      });
    return true;
  };
  return Object.assign(interceptor, httpControls(core, 'resilientInterceptor'));
}
