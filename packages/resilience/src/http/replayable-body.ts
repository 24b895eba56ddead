/** What `fetch` accepts as a request body. */
export type RequestBody = NonNullable<RequestInit['body']>;

/**
 * A request body as the attempts of one call send it: `replayable` bodies can be sent by every
 * attempt; a `once` body is a stream too large to buffer, which only the first attempt may send.
 */
export type AttemptBody =
  | { readonly replayable: true; readonly body: RequestBody | null | undefined }
  | { readonly replayable: false; readonly body: ReadableStream<Uint8Array> };

function isReusable(body: unknown): body is RequestBody {
  return (
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof URLSearchParams ||
    body instanceof FormData
  );
}

/** Streams `chunks` first, then what is left of `reader`. */
function resume(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (index < chunks.length) {
        controller.enqueue(chunks[index++] as Uint8Array);
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Makes a body every attempt can send: strings, buffers, blobs, forms and search params are
 * reusable as they are; a stream is read into memory up to `limit` bytes. A longer stream is
 * passed on unread past what was buffered, for one attempt only.
 */
export async function replayableBody(body: unknown, limit: number): Promise<AttemptBody> {
  if (body === null || body === undefined || isReusable(body)) return { replayable: true, body };
  const stream =
    typeof (body as ReadableStream<Uint8Array>).getReader === 'function'
      ? (body as ReadableStream<Uint8Array>)
      : ReadableStream.from(body as AsyncIterable<Uint8Array>);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { replayable: true, body: concat(chunks, length) };
    chunks.push(value);
    length += value.byteLength;
    if (length > limit) return { replayable: false, body: resume(chunks, reader) };
  }
}
