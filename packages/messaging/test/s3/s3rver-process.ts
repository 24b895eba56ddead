// Starts a real S3 server (s3rver) as a child process on a random port with its own temp
// directory, so S3 adapters are tested over HTTP against a server, never a mock, and the
// server's memory is not counted in the test process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Minio from 'minio';

export interface S3rverProcess {
  readonly port: number;
  readonly client: Minio.Client;
  /** Creates a bucket with a unique, valid name and returns it. */
  createBucket(): Promise<string>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
let buckets = 0;

export async function startS3rver(): Promise<S3rverProcess> {
  const directory = mkdtempSync(join(tmpdir(), 'bulwark-s3rver-'));
  const bin = require.resolve('s3rver/bin/s3rver.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, '-d', directory, '-a', '127.0.0.1', '-p', '0', ...(process.env.S3RVER_DEBUG ? [] : ['-s'])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // If the test process ends without stop() (a crash, a timeout), do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start in 15 s:\n${output}`)), 15_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /listening on [^\s:]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (process.env.S3RVER_DEBUG) console.error(`s3rver exited with ${code}:\n${output}`);
      reject(new Error(`s3rver exited with ${code}:\n${output}`));
    });
  });
  const client = new Minio.Client({
    endPoint: '127.0.0.1',
    port,
    useSSL: false,
    pathStyle: true,
    region: 'us-east-1',
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
  });
  return {
    port,
    client,
    async createBucket() {
      buckets += 1;
      const name = `bulwark-${process.pid}-${buckets}`;
      await client.makeBucket(name);
      return name;
    },
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
