import type { ChannelModel } from 'amqplib';

/** The part of amqplib's socket (`connection.stream`, a `net.Socket` or TLS socket) used here. */
interface CorkableStream {
  write(...args: unknown[]): boolean;
  cork(): void;
  uncork(): void;
}

const isCorkable = (value: unknown): value is CorkableStream =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as CorkableStream).write === 'function' &&
  typeof (value as CorkableStream).cork === 'function' &&
  typeof (value as CorkableStream).uncork === 'function';

/**
 * Sends the frames amqplib writes in one pass in one `writev`, not one system call each. amqplib
 * queues every frame (a publish, an ack) per channel and writes them all to the socket in one
 * `setImmediate` pass, one `write` each; with `noDelay` each is a system call, which was the
 * largest client cost per message in profiles of publish → handler → ack at 32 in flight. The
 * socket is corked at the first write and uncorked by `process.nextTick`, which runs right after
 * that pass: the frames go out together, and no later than they would have (a `setImmediate`
 * held them for one more turn of the event loop, through its poll for I/O). Only for connections
 * the transport opened itself; without a corkable socket (another amqplib layout) nothing changes.
 */
export function coalesceFrameWrites(model: ChannelModel): void {
  const stream: unknown = (model.connection as { stream?: unknown } | undefined)?.stream;
  if (!isCorkable(stream)) return;
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = (...args: unknown[]) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write.apply(stream, args);
  };
}
