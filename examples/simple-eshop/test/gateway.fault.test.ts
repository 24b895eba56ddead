// The API gateway (`--role gateway`) in front of three real shop processes (`--role api`, one
// PostgreSQL database): one is SIGKILLed under load, and no request that could be retried fails;
// its health checks isolate the dead upstream, and /metrics shows it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithServers, freePort, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { apiGateway, type Gateway } from '../src/gateway/gateway.js';
import { shopCommand, shopDir, waitReady } from './shop-process.js';

const gatewayCommand = shopCommand('gateway');

/** The value of one sample of the Prometheus text `metrics`, `undefined` when absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

await describeWithServers('API gateway in front of shop API processes', ['postgres'], ({ postgres }) => {
  const database = uniqueName('shop_gateway');
  const apis: { child: ChildProcess; url: string }[] = [];
  let dataDir: string;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: postgres });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const databaseUrl = new URL(postgres);
    databaseUrl.pathname = `/${database}`;
    dataDir = mkdtempSync(join(tmpdir(), 'shop-gateway-'));
    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl.toString(),
      DATA_DIR: dataDir,
      // One secret: a token issued by one API process is accepted by the others.
      JWT_SECRET: 'gateway-test-secret',
      LOG_LEVEL: 'warn',
    };
    // The first process migrates; the others wait on its advisory lock, so starting together is safe.
    for (let index = 0; index < 3; index++) {
      const port = await freePort();
      const child = spawn(process.execPath, shopCommand('api'), {
        cwd: shopDir,
        env: { ...env, PORT: String(port) },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      apis.push({ child, url: `http://127.0.0.1:${port}` });
    }
    await Promise.all(apis.map(({ url: api }) => waitReady(api, 120_000)));
    gateway = apiGateway({
      upstreams: apis.map(({ url: upstream }) => upstream),
      healthIntervalMs: 200,
      // The load below is one client address; the per-client limit has its own test.
      rateLimit: 1_000_000,
    });
    url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  }, 240_000);
  afterAll(async () => {
    await gateway?.close();
    for (const { child } of apis) child.kill('SIGKILL');
    const running = apis.filter(({ child }) => child.exitCode === null && child.signalCode === null);
    await Promise.all(running.map(({ child }) => once(child, 'exit')));
    const admin = new pg.Client({ connectionString: postgres });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gives each request an id, kept from the client when it sends one, and passes it to the upstream', async () => {
    const fresh = await fetch(`${url}/api/products`);
    expect(fresh.status).toBe(200);
    await fresh.arrayBuffer();
    const id = fresh.headers.get('x-request-id');
    expect(id).toBeTruthy();
    // The shop answers with the correlation id it used: the gateway's request id.
    expect(fresh.headers.get('x-correlation-id')).toBe(id);
    const kept = await fetch(`${url}/api/products`, { headers: { 'x-request-id': 'client-1' } });
    await kept.arrayBuffer();
    expect(kept.headers.get('x-request-id')).toBe('client-1');
    expect(kept.headers.get('x-correlation-id')).toBe('client-1');
  });

  it('loses no retriable request when an API process is killed under load', async () => {
    const json = { 'content-type': 'application/json' };
    // One user per client, so the clients' cart updates never race on one cart.
    const tokens = await Promise.all(
      Array.from({ length: 8 }, async (_, index) => {
        const user = { username: `gw${index}`, email: `gw${index}@example.com`, password: `gateway-password-${index}` };
        const registered = await fetch(`${url}/api/users`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify(user),
        });
        expect(registered.status).toBe(201);
        await registered.arrayBuffer();
        const login = await fetch(`${url}/api/sessions`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ email: user.email, password: user.password }),
        });
        return ((await login.json()) as { token: string }).token;
      }),
    );
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    // GETs of the catalog and PUTs of a cart: both idempotent, so none may fail.
    const client = async (clientIndex: number) => {
      const auth = { ...json, authorization: `Bearer ${tokens[clientIndex]}` };
      while (!stop) {
        sent += 1;
        const put = sent % 3 === 0;
        const quantity = (sent % 5) + 1;
        try {
          const response = await fetch(`${url}/api/${put ? 'cart' : 'products'}`, {
            method: put ? 'PUT' : 'GET',
            ...(put ? { headers: auth, body: JSON.stringify({ items: [{ productId: 'compass', quantity }] }) } : {}),
          });
          const body = (await response.json()) as { items?: { productId: string; quantity: number }[] };
          if (response.status !== 200) failures.push(`${response.status} ${JSON.stringify(body)}`);
          else if (put) expect(body.items).toMatchObject([{ productId: 'compass', quantity }]);
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
    const deadline = Date.now() + 30_000;
    while (sent - sentAtKill < 60 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await Promise.all(clients);
    retries.dispose();

    expect(failures).toEqual([]);
    // Requests were in flight on the killed process: they were sent again to another one.
    expect(retriedElsewhere).toBeGreaterThan(0);
    expect(sent - sentAtKill).toBeGreaterThanOrEqual(60);
    await vi.waitFor(
      () => expect(gateway.status().find(({ upstream }) => upstream === victim.url)?.healthy).toBe(false),
      { timeout: 10_000 },
    );
    const dead = gateway.status().find(({ upstream }) => upstream === victim.url);
    expect(['isolated', 'open']).toContain(dead?.circuit);

    // /metrics: every upstream answered, the dead one is unhealthy and its breaker not closed.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const { url: upstream } of apis) {
      expect(sample(metrics, 'gateway_upstream_attempts_total', { upstream, outcome: 'ok' })).toBeGreaterThan(0);
    }
    expect(sample(metrics, 'gateway_upstream_healthy', { upstream: victim.url })).toBe(0);
    expect(sample(metrics, 'gateway_upstream_healthy', { upstream: (apis[1] as { url: string }).url })).toBe(1);
    expect(sample(metrics, 'gateway_upstream_circuit', { upstream: victim.url, state: 'closed' })).toBe(0);
    expect(sample(metrics, 'gateway_upstream_circuit', { upstream: victim.url, state: dead?.circuit ?? '' })).toBe(1);
    expect(
      sample(metrics, 'gateway_upstream_attempts_total', { upstream: victim.url, outcome: 'network_error' }),
    ).toBeGreaterThan(0);
  });

  it('limits each client to its rate', async () => {
    const limited = apiGateway({ upstreams: [(apis[1] as { url: string }).url], rateLimit: 3, rateWindowMs: 60_000 });
    const limitedUrl = await limited.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 4; index++) {
        const response = await fetch(`${limitedUrl}/api/products`);
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
      const response = await fetch(`${gatewayUrl}/api/products`);
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
