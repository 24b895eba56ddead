// Shared by the 200 MB streaming tests: a deterministic source that hashes what it yields, and a
// sampler of the process's memory while a body streams.
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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

/** V8's gc(), switched on at run time (vitest workers do not start with --expose-gc). */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Samples memory every 25 ms, with a full collection every 250 ms; `stop()` returns the peak
 * growth over the start. Without the collections, peak RSS mostly measured when the collector
 * happened to run: a 200 MB source makes 200 MB of garbage.
 */
export function sampleMemory() {
  collectGarbage();
  const start = process.memoryUsage();
  const peak = { rss: start.rss, heapUsed: start.heapUsed, external: start.external };
  let lastCollection = performance.now();
  const sample = () => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
    peak.external = Math.max(peak.external, now.external);
    if (performance.now() - lastCollection >= 250) {
      collectGarbage();
      lastCollection = performance.now();
    }
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
