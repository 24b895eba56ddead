// The API gateway (`--role gateway`) in front of three API processes: one is SIGKILLed under
// load, and no request that could be retried fails; its health checks isolate the dead upstream.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGateway, type Gateway } from '../src/gateway/gateway.js';

const fixture = join(import.meta.dirname, 'fixtures', 'stand-in-api.mjs');
const shopDir = join(import.meta.dirname, '..');
/** `pnpm start --role gateway`, as the shop's start script runs it. */
const gatewayCommand = [
  '--conditions=@bulwark/source',
  '--import',
  'tsx',
  '--import',
  '../../tools/assets/register.mjs',
  'src/main.ts',
  '--role',
  'gateway',
];

async function startApiProcess(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = /port (\d+)/.exec(line.toString())?.[1];
  if (!port) throw new Error(`stand-in API did not start: ${line.toString()}`);
  return { child, url: `http://127.0.0.1:${port}` };
}

describe('API gateway', () => {
  const apis: { child: ChildProcess; url: string }[] = [];
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    for (let index = 0; index < 3; index++) apis.push(await startApiProcess());
    gateway = apiGateway({ upstreams: apis.map(({ url: upstream }) => upstream), healthIntervalMs: 200 });
    url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await gateway?.close();
    for (const { child } of apis) child.kill('SIGKILL');
  });

  it('gives each request an id, kept from the client when it sends one', async () => {
    const fresh = await fetch(`${url}/api/items`);
    const body = (await fresh.json()) as { requestId: string };
    expect(fresh.headers.get('x-request-id')).toBe(body.requestId);
    const kept = await fetch(`${url}/api/items`, { headers: { 'x-request-id': 'client-1' } });
    expect(((await kept.json()) as { requestId: string }).requestId).toBe('client-1');
  });

  it('loses no retriable request when an API process is killed under load', async () => {
    const failures: string[] = [];
    const servedBy = new Set<number>();
    let sent = 0;
    let stop = false;
    const client = async (clientIndex: number) => {
      while (!stop) {
        sent += 1;
        const post = sent % 3 === 0;
        const key = `order-${clientIndex}-${sent}`;
        try {
          const response = await fetch(`${url}/api/${post ? 'orders' : 'items'}`, {
            method: post ? 'POST' : 'GET',
            ...(post
              ? { headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: `{"key":"${key}"}` }
              : {}),
          });
          const body = (await response.json()) as { pid: number; body: string };
          if (response.status !== (post ? 201 : 200)) failures.push(`${response.status} ${JSON.stringify(body)}`);
          else {
            servedBy.add(body.pid);
            if (post) expect(JSON.parse(body.body)).toEqual({ key });
          }
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    let retriedElsewhere = 0;
    const retries = gateway.http.onRetry(() => {
      retriedElsewhere += 1;
    });
    const clients = Array.from({ length: 8 }, (_, index) => client(index));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const victim = apis[0] as { child: ChildProcess; url: string };
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    const sentAtKill = sent;
    // Load goes on until 60 more requests were sent (time-boxed: the machine may be slow).
    const deadline = Date.now() + 20_000;
    while (sent - sentAtKill < 60 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await Promise.all(clients);
    retries.dispose();

    expect(failures).toEqual([]);
    // Requests were in flight on the killed process: they were sent again to another one.
    expect(retriedElsewhere).toBeGreaterThan(0);
    expect(sent - sentAtKill).toBeGreaterThanOrEqual(60);
    expect(servedBy.size).toBe(3);
    const dead = gateway.status().find(({ upstream }) => upstream === victim.url);
    expect(dead).toMatchObject({ healthy: false });
    expect(['isolated', 'open']).toContain(dead?.circuit);
  });

  it('limits each client to its rate', async () => {
    const limited = apiGateway({ upstreams: [(apis[1] as { url: string }).url], rateLimit: 3, rateWindowMs: 60_000 });
    const limitedUrl = await limited.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 4; index++) {
        const response = await fetch(`${limitedUrl}/api/items`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  it('runs as `--role gateway` from the command line, in front of GATEWAY_UPSTREAMS', async () => {
    const child = spawn(process.execPath, gatewayCommand, {
      cwd: shopDir,
      env: {
        ...process.env,
        PORT: '0',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'gateway-')),
        GATEWAY_UPSTREAMS: apis.map(({ url: upstream }) => upstream).join(','),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      const gatewayUrl = await new Promise<string>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /running on (http:\/\/[^,\s]+)/.exec(output);
          if (match) resolve(match[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${output}`)));
      });
      const response = await fetch(`${gatewayUrl}/api/items`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBeTruthy();
      await response.arrayBuffer();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses to start as a gateway without upstreams, with a clear message', async () => {
    const child = spawn(process.execPath, gatewayCommand, {
      cwd: shopDir,
      env: { ...process.env, DATA_DIR: mkdtempSync(join(tmpdir(), 'gateway-')), GATEWAY_UPSTREAMS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(errors).toContain('--role gateway needs GATEWAY_UPSTREAMS');
  });
});
