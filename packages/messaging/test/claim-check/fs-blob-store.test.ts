import { mkdtempSync } from 'node:fs';
import { readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsBlobStore, InvalidBlobRefError } from '@bulwark/messaging';
import { blobStoreConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { afterEach, describe, expect, it } from 'vitest';

const directories: string[] = [];
const newDirectory = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-blobs-'));
  directories.push(dir);
  return dir;
};
afterEach(async () => {
  for (const dir of directories.splice(0)) await rm(dir, { recursive: true, force: true });
});

blobStoreConformance('fsBlobStore', { createStore: ({ clock }) => fsBlobStore({ dir: newDirectory(), clock }) });

describe('fsBlobStore', () => {
  it('keeps the bytes and a metadata sidecar under the directory, and no temp file after a put', async () => {
    const dir = newDirectory();
    const store = fsBlobStore({ dir });
    await store.put('orders/42', Buffer.from('hello'), { contentType: 'text/plain' });
    expect((await readdir(join(dir, 'orders'))).sort()).toEqual(['42.blob', '42.meta.json']);
    expect(await readdir(join(dir, '.tmp'))).toEqual([]);
  });

  it('removes its temp files when a put fails', async () => {
    const dir = newDirectory();
    const store = fsBlobStore({ dir });
    const failing = (async function* () {
      yield Buffer.alloc(1024);
      throw new Error('boom');
    })();
    await expect(store.put('x', failing)).rejects.toThrow('boom');
    expect(await readdir(join(dir, '.tmp'))).toEqual([]);
  });

  it('rejects traversal, absolute and encoded refs without touching files outside the directory', async () => {
    const parent = newDirectory();
    const dir = join(parent, 'store');
    const outside = join(parent, 'secret.blob');
    await writeFile(outside, 'secret');
    const store = fsBlobStore({ dir });
    for (const ref of [
      '../secret',
      '../../etc/passwd',
      '/etc/passwd',
      `${parent}/secret`,
      '..%2fsecret',
      'a/%2e%2e/b',
    ]) {
      await expect(store.get(ref)).rejects.toBeInstanceOf(InvalidBlobRefError);
      await expect(store.put(ref, Buffer.from('overwrite'))).rejects.toBeInstanceOf(InvalidBlobRefError);
      await expect(store.delete(ref)).rejects.toBeInstanceOf(InvalidBlobRefError);
    }
    expect(await readdir(parent)).toEqual(expect.arrayContaining(['secret.blob']));
  });

  it('sweeps expired blobs in nested folders and ignores files that are not blobs', async () => {
    const dir = newDirectory();
    let now = 1_000;
    const store = fsBlobStore({ dir, clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} } });
    await store.put('a/b/c', Buffer.from('x'), { ttlMs: 10 });
    await symlink('/etc', join(dir, 'not-ours')).catch(() => undefined);
    await writeFile(join(dir, 'stray.meta.json'), '{not json');
    now += 10;
    expect(await store.sweepExpired()).toBe(1);
    expect(await store.head('a/b/c')).toBeUndefined();
  });

  it('sweeps temp files left by a crashed put once they are stale, not fresh ones', async () => {
    const dir = newDirectory();
    let now = Date.now();
    const store = fsBlobStore({
      dir,
      staleTempMs: 60_000,
      clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} },
    });
    await store.put('warm-up', Buffer.from('x'));
    await writeFile(join(dir, '.tmp', 'crashed.blob'), 'partial');
    expect(await store.sweepExpired()).toBe(0);
    expect(await readdir(join(dir, '.tmp'))).toEqual(['crashed.blob']);
    // A little more than the limit: the file was written a few ms after `now` was read.
    now += 61_000;
    await store.sweepExpired();
    expect(await readdir(join(dir, '.tmp'))).toEqual([]);
    expect((await store.get('warm-up'))?.toString()).toBe('x');
  });

  it('validates its options', () => {
    expect(() => fsBlobStore({ dir: '' })).toThrow(InvalidOptionsError);
    expect(() => fsBlobStore({ dir: 'x', staleTempMs: 0 })).toThrow(InvalidOptionsError);
  });
});
