import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimCheck, fsBlobStore } from '@bulwark/messaging';
import { afterAll, describe, expect, it } from 'vitest';
import { consumeHashed, hashedSource, MiB, sampleMemory } from './streaming-memory.js';

const dir = mkdtempSync(join(tmpdir(), 'bulwark-stream-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('claim check streaming through fsBlobStore', () => {
  it('checks a 200 MB stream in and out with flat memory and the hash verified', async () => {
    const checks = claimCheck({ store: fsBlobStore({ dir }), thresholdBytes: 256 * 1024, deleteAfterCheckOut: true });
    const total = 200 * MiB;
    const source = hashedSource(total);
    const memory = sampleMemory();
    const started = performance.now();

    const claim = await checks.checkInStream(source.chunks(), { contentType: 'application/octet-stream' });
    const expected = source.digest();
    expect(claim).toMatchObject({ bytes: total, sha256: expected });

    const read = await consumeHashed(await checks.checkOutStream(claim), memory.sample);
    const growth = memory.stop();
    const seconds = (performance.now() - started) / 1000;
    console.info(
      `fs 200 MB in+out: ${seconds.toFixed(1)} s, rss +${(growth.rssGrowth / MiB).toFixed(1)} MB, heap +${(growth.heapGrowth / MiB).toFixed(1)} MB, buffers +${(growth.externalGrowth / MiB).toFixed(1)} MB`,
    );
    expect(read).toEqual({ bytes: total, sha256: expected });
    expect(growth.rssGrowth).toBeLessThan(64 * MiB);
    expect(growth.heapGrowth).toBeLessThan(64 * MiB);
    // Verified and consumed: the delete-after-check-out option removed it.
    await expect(checks.checkOutStream(claim)).rejects.toMatchObject({ reason: 'missing' });
  });
});
