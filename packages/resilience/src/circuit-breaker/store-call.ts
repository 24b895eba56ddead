import type { Clock } from '../clock/clock.js';
import { TimeoutError } from '../timeout/timeout-errors.js';

/**
 * Runs one call of a `CircuitStateStore` with a deadline: the signal given to `call` aborts with a
 * {@link TimeoutError} after `timeoutMs` (or with the caller's reason), and the returned promise
 * rejects then even if the store ignores its signal. A store that hangs (a client queueing commands
 * while it reconnects) must not hang the breaker's probes nor stop its background sync.
 */
export function callStore<T>(
  clock: Clock,
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (callerSignal?.aborted) return Promise.reject(callerSignal.reason);
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    const onAbort = () => {
      cleanUp();
      reject(controller.signal.reason);
    };
    const timer = clock.setTimeout(() => controller.abort(new TimeoutError(timeoutMs)), timeoutMs);
    const cleanUp = () => {
      clock.clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
      controller.signal.removeEventListener('abort', onAbort);
    };
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    controller.signal.addEventListener('abort', onAbort, { once: true });
    call(controller.signal).then(
      (value) => {
        cleanUp();
        resolve(value);
      },
      (error: unknown) => {
        cleanUp();
        reject(error);
      },
    );
  });
}
