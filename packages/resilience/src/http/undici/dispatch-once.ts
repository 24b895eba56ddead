import type { Dispatcher } from 'undici';

/** Statuses whose response has no body (a `Response` refuses one). */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/** A `Headers` from undici's header forms: an object, a flat `[name, value, …]` array, or pairs. */
export function headersFromUndici(headers: Dispatcher.DispatchOptions['headers'] | undefined): Headers {
  const result = new Headers();
  if (headers === null || headers === undefined) return result;
  const add = (name: unknown, value: unknown) => {
    if (value === undefined || value === null) return;
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) result.append(String(name), String(item));
  };
  if (Array.isArray(headers)) {
    for (let index = 0; index + 1 < headers.length; index += 2) add(headers[index], headers[index + 1]);
  } else if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[string, string | string[] | undefined]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  return result;
}

/** Response headers as undici's handlers take them; `set-cookie` stays a list. */
export function headersToUndici(headers: Headers): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') result[name] = value;
  });
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) result['set-cookie'] = cookies;
  return result;
}

/**
 * Sends one attempt through the next dispatcher and resolves with its response as a `Response`
 * once the headers came; the body streams on with backpressure (the dispatcher is paused while
 * the stream is full). `init.signal` aborts the attempt, its body included.
 */
export function dispatchOnce(
  dispatch: Dispatcher.Dispatch,
  request: Dispatcher.DispatchOptions,
  url: URL,
  init: RequestInit,
): Promise<Response> {
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let stream: ReadableStreamDefaultController<Uint8Array> | undefined;
    let started = false;
    const abort = () => controller?.abort(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    const done = () => signal?.removeEventListener('abort', abort);
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    signal?.addEventListener('abort', abort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(attempt) {
        controller = attempt;
        if (signal?.aborted) abort();
      },
      onResponseStart(attempt, statusCode, headers, statusMessage) {
        if (statusCode < 200) return;
        started = true;
        const body =
          nullBodyStatuses.has(statusCode) || request.method === 'HEAD'
            ? null
            : new ReadableStream<Uint8Array>({
                start(streamController) {
                  stream = streamController;
                },
                pull() {
                  attempt.resume();
                },
                cancel(reason) {
                  attempt.abort(reason instanceof Error ? reason : new Error('response body cancelled'));
                },
              });
        resolve(
          new Response(body, {
            status: statusCode,
            statusText: statusMessage ?? '',
            headers: headersFromUndici(headers),
          }),
        );
      },
      onResponseData(attempt, chunk) {
        if (!stream) return;
        stream.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((stream.desiredSize ?? 1) <= 0) attempt.pause();
      },
      onResponseEnd() {
        done();
        stream?.close();
      },
      onResponseError(_attempt, error) {
        done();
        if (!started) reject(error);
        else stream?.error(error);
      },
    };
    const body = init.body instanceof URLSearchParams ? init.body.toString() : init.body;
    dispatch(
      {
        ...request,
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        headers: Object.fromEntries(init.headers instanceof Headers ? init.headers : new Headers(init.headers)),
        body: (body ?? null) as Dispatcher.DispatchOptions['body'],
      },
      handler,
    );
  });
}
