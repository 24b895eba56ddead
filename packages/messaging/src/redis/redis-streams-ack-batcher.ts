/**
 * Batches the acks of one subscription: acks issued while one ack call is on the wire are sent
 * together in the next one (one script call for all of them). A failed call rejects each of its
 * acks with the error `send` rejected with.
 *
 * @returns the function each ack calls with its entry id.
 */
export function streamAckBatcher(send: (ids: readonly string[]) => Promise<void>): (id: string) => Promise<void> {
  let queue: { id: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let acking = false;
  const flush = async () => {
    acking = true;
    await Promise.resolve();
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await send(batch.map((item) => item.id));
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    acking = false;
  };
  return (id) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ id, resolve, reject });
      if (!acking) void flush();
    });
}
