// The S3 blob store under network faults, through a fault proxy in front of a real S3 server
// (s3rver, a child process): connections cut mid-call and while idle, the server unreachable for
// 5 s, silent for 10 s, 200 ms of latency, while one process puts, reads back and deletes blobs.
// One minio client, made before the faults, is never replaced. Afterwards every blob whose put
// resolved is read back past the proxy with its exact bytes.
import { createHash } from 'node:crypto';
import { MessagingError } from '@bulwark/messaging';
import { s3BlobStore } from '@bulwark/messaging/s3';
import { type FaultProxy, faultProxy, runFaultScenarios } from '@bulwark/test-support';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type S3rverProcess, startS3rver } from './s3rver-process.js';

const requestTimeoutMs = 1_500;

describe('s3BlobStore under network faults (fault proxy, s3rver)', () => {
  let server: S3rverProcess;
  let proxy: FaultProxy;
  let bucket: string;
  beforeAll(async () => {
    server = await startS3rver();
    bucket = await server.createBucket();
    proxy = await faultProxy({ host: '127.0.0.1', port: server.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it('every call settles within requestTimeoutMs, typed; recovers by itself; no stored blob lost or altered', async () => {
    const client = new Minio.Client({
      endPoint: '127.0.0.1',
      port: proxy.port,
      useSSL: false,
      pathStyle: true,
      region: 'us-east-1',
      accessKey: 'S3RVER',
      secretKey: 'S3RVER',
    });
    const store = s3BlobStore(client, { bucket, prefix: 'faults/', requestTimeoutMs });
    const stored = new Map<string, string>();
    let next = 0;
    const report = await runFaultScenarios({
      name: 's3BlobStore',
      proxy,
      load: async () => {
        const ref = `blob-${next++}`;
        const body = Buffer.from(`${ref}:${'x'.repeat(2_000)}`);
        await store.put(ref, body, { contentType: 'text/plain' });
        stored.set(ref, createHash('sha256').update(body).digest('hex'));
        const read = await store.get(ref);
        if (!read) throw new Error(`read back of ${ref}: not found after its put resolved`);
        if (!read.equals(body))
          throw new Error(`read back of ${ref} differs: ${read.byteLength} bytes, ${body.byteLength} put`);
        if (next % 5 === 0) {
          // A delete that fails may still have happened: the blob is no longer expected either way.
          stored.delete(ref);
          await store.delete(ref);
        }
      },
      callTimeoutMs: requestTimeoutMs * 3, // put, get and delete: three bounded requests
      recoverWithinMs: 8_000,
      isTypedError: (error) => error instanceof MessagingError,
      concurrency: 2,
    });

    // Past the proxy, with the server's own client: every stored blob is there, byte for byte.
    const reader = s3BlobStore(server.client, { bucket, prefix: 'faults/' });
    let lost = 0;
    for (const [ref, sha256] of stored) {
      const body = await reader.get(ref);
      if (!body || createHash('sha256').update(body).digest('hex') !== sha256) lost += 1;
    }
    console.log(report.summary({ 'blobs stored': stored.size, 'lost or altered': lost }));
    expect(report.problems).toEqual([]);
    expect(stored.size).toBeGreaterThan(0);
    expect(lost).toBe(0);
  }, 85_000);
});
