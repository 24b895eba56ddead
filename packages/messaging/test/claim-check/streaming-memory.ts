// Shared by the 200 MB streaming tests: a deterministic source that hashes what it yields, and a
// sampler of the process's memory while a body streams.
import { createHash } from 'node:crypto';

export const MiB = 1024 * 1024;

/** Yields `totalBytes` in 1 MiB chunks of changing content; `digest()` is their SHA-256. */
export function hashedSource(totalBytes: number) {
  const hash = createHash('sha256');
  let produced = 0;
  return {
    async *chunks() {
      for (let index = 0; produced < totalBytes; index++) {
        const size = Math.min(MiB, totalBytes - produced);
        const chunk = Buffer.allocUnsafe(size).fill(index % 251);
        chunk.writeUInt32LE(index, 0);
        hash.update(chunk);
        produced += size;
        yield chunk;
      }
    },
    digest: () => hash.digest('hex'),
  };
}

/** Samples rss, heap and external memory every 25 ms; `stop()` returns the growth over the start. */
export function sampleMemory() {
  const start = process.memoryUsage();
  const peak = { rss: start.rss, heapUsed: start.heapUsed, external: start.external };
  const sample = () => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
    peak.external = Math.max(peak.external, now.external);
  };
  const timer = setInterval(sample, 25);
  return {
    sample,
    stop() {
      clearInterval(timer);
      sample();
      return {
        rssGrowth: peak.rss - start.rss,
        heapGrowth: peak.heapUsed - start.heapUsed,
        externalGrowth: peak.external - start.external,
      };
    },
  };
}

/** Hashes a stream as it is consumed, sampling memory on each chunk. */
export async function consumeHashed(stream: AsyncIterable<unknown>, onChunk: () => void) {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    onChunk();
  }
  return { bytes, sha256: hash.digest('hex') };
}
