import { Readable } from 'node:stream';
import { claimCheck } from '@bulwark/messaging';
import { s3BlobStore } from '@bulwark/messaging/s3';
import { blobStoreConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { uniqueName } from '@bulwark/test-support';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type S3rverProcess, startS3rver } from './s3rver-process.js';

const MiB = 1024 * 1024;
let server: S3rverProcess;
let bucket: string;

beforeAll(async () => {
  server = await startS3rver();
  bucket = await server.createBucket();
});
afterAll(async () => {
  await server?.stop();
});

blobStoreConformance('s3BlobStore (s3rver)', {
  createStore: ({ clock }) =>
    s3BlobStore(server.client, { bucket, prefix: `${uniqueName('conformance')}/`, partSizeBytes: 5 * MiB, clock }),
  // Three parts of 5 MiB and a last smaller one.
  largeBlobBytes: 17 * MiB,
});

describe('s3BlobStore', () => {
  it('writes the object under prefix + ref with content type and expiry metadata', async () => {
    const prefix = `${uniqueName('layout')}/`;
    const store = s3BlobStore(server.client, {
      bucket,
      prefix,
      clock: { now: () => 5_000, setTimeout: () => 0, clearTimeout: () => {} },
    });
    await store.put('orders/1', Buffer.from('{}'), { contentType: 'application/json', ttlMs: 1_000 });
    const stat = await server.client.statObject(bucket, `${prefix}orders/1`);
    expect(stat.size).toBe(2);
    expect(stat.metaData).toMatchObject({ 'content-type': 'application/json', 'bulwark-expires-at': '6000' });
  });

  it('uploads a multipart body whose metadata survives completion', async () => {
    const prefix = `${uniqueName('multipart')}/`;
    const store = s3BlobStore(server.client, { bucket, prefix, partSizeBytes: 5 * MiB });
    const chunks = Array.from({ length: 11 }, (_, index) => Buffer.alloc(MiB, index));
    const info = await store.put('big', Readable.from(chunks), { contentType: 'application/pdf', ttlMs: 60_000 });
    expect(info.bytes).toBe(11 * MiB);
    expect(await store.head('big')).toMatchObject({
      bytes: 11 * MiB,
      contentType: 'application/pdf',
      expiresAt: info.expiresAt,
    });
    // Buffer#equals: vitest's deep equality is far too slow on megabytes.
    expect((await store.get('big'))?.equals(Buffer.concat(chunks))).toBe(true);
  });

  it('sweeps many objects, inspecting them in groups', async () => {
    let now = 1_000;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
    const store = s3BlobStore(server.client, { bucket, prefix: `${uniqueName('sweep')}/`, clock });
    await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        store.put(`blob-${index}`, Buffer.from(`${index}`), index % 2 === 0 ? { ttlMs: 100 } : {}),
      ),
    );
    now += 100;
    expect(await store.sweepExpired()).toBe(20);
    expect(await store.head('blob-0')).toBeUndefined();
    expect((await store.get('blob-1'))?.toString()).toBe('1');
    expect(await store.sweepExpired()).toBe(0);
  });

  it('round-trips a message through a claim check on S3', async () => {
    const store = s3BlobStore(server.client, { bucket, prefix: `${uniqueName('claims')}/` });
    const checks = claimCheck({ store, thresholdBytes: 1_024, deleteAfterCheckOut: true });
    const payload = { lines: Array.from({ length: 500 }, (_, index) => ({ sku: `sku-${index}`, quantity: index })) };
    const checkedIn = await checks.checkIn({
      id: '1',
      topic: 't',
      type: 'order.placed',
      payload,
      headers: {},
      occurredAt: '',
    });
    expect((await checks.checkOut(JSON.parse(JSON.stringify(checkedIn)))).payload).toEqual(payload);
  });

  it('validates its options, reporting every problem', () => {
    expect(() => s3BlobStore({} as never, { bucket: '', partSizeBytes: 1 })).toThrow(InvalidOptionsError);
    try {
      s3BlobStore({} as never, { bucket: '', partSizeBytes: 1 });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(3);
    }
  });
});
