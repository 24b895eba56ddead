// The shop spread over processes, as in production: two API processes, and one each of orders,
// email, relay and the payment provider (reached over HTTP), sharing one PostgreSQL database.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithServers, freePort, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shopCommand, shopDir, waitReady } from './shop-process.js';

await describeWithServers('simple-eshop roles as separate processes', ['postgres'], ({ postgres }) => {
  const children: { role: string; child: ChildProcess; log: string[] }[] = [];
  const database = uniqueName('shop_roles');
  let dataDir: string;
  let apis: string[] = [];
  let byRole: Record<string, string> = {};

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: postgres });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const url = new URL(postgres);
    url.pathname = `/${database}`;
    dataDir = await mkdtemp(join(tmpdir(), 'shop-roles-'));
    const paymentPort = await freePort();
    const common = {
      ...process.env,
      DATABASE_URL: url.toString(),
      // Processes on one machine share the filesystem blob store; across machines use S3.
      DATA_DIR: dataDir,
      JWT_SECRET: 'roles-test-secret',
      LOG_LEVEL: 'warn',
      PAYMENT_URL: `http://127.0.0.1:${paymentPort}`,
    };
    const start = async (role: string, port: number) => {
      const child = spawn(process.execPath, shopCommand(role), {
        cwd: shopDir,
        env: { ...common, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // Its warnings (a shutdown step still closing, say) explain an exit that fails the test.
      const log: string[] = [];
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.push(chunk));
      children.push({ role, child, log });
      return `http://127.0.0.1:${port}`;
    };
    // The first process migrates; the others wait on its advisory lock, so starting together is safe.
    const urls = await Promise.all([
      start('payment', paymentPort),
      start('orders', await freePort()),
      start('email', await freePort()),
      start('relay', await freePort()),
      start('api', await freePort()),
      start('api', await freePort()),
    ]);
    await Promise.all(urls.map((processUrl) => waitReady(processUrl)));
    apis = urls.slice(4);
    byRole = { payment: urls[0], orders: urls[1], email: urls[2], relay: urls[3], api: urls[4] } as Record<
      string,
      string
    >;
  }, 120_000);

  afterAll(async () => {
    for (const { child } of children) child.kill('SIGTERM');
    // Each process closes everything it opened and exits 0, well within its 25 s deadline.
    const exits = await Promise.all(
      children.map(async ({ role, child, log }) => {
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
        return { role, code: child.exitCode, log: log.join('').slice(-4_000) };
      }),
    );
    for (const exit of exits) expect(exit.code, `${exit.role} exited with ${exit.code}:\n${exit.log}`).toBe(0);
    const admin = new pg.Client({ connectionString: postgres });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('an order placed on one API process is confirmed by the workers and readable on the other', async () => {
    const [first, second] = apis as [string, string];
    const json = { 'content-type': 'application/json' };
    expect(
      (
        await fetch(`${first}/api/users`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ username: 'ines', email: 'ines@example.com', password: 'ines-password' }),
        })
      ).status,
    ).toBe(201);
    const login = await fetch(`${second}/api/sessions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email: 'ines@example.com', password: 'ines-password' }),
    });
    const { token } = (await login.json()) as { token: string };
    const auth = { ...json, authorization: `Bearer ${token}` };
    await fetch(`${first}/api/cart`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({
        items: [
          { productId: 'compass', quantity: 1 },
          { productId: 'gloves', quantity: 2 },
        ],
      }),
    });
    const placed = await fetch(`${first}/api/orders`, {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': 'roles-1' },
      body: '{}',
    });
    expect(placed.status).toBe(202);
    // The same key on the other API process is a replay: the idempotency store is shared.
    const replay = await fetch(`${second}/api/orders`, {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': 'roles-1' },
      body: '{}',
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const location = placed.headers.get('location') as string;
    let status = 'pending';
    for (let tries = 0; tries < 200 && status === 'pending'; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = ((await (await fetch(`${second}${location}`, { headers: auth })).json()) as { status: string }).status;
    }
    expect(status).toBe('confirmed');

    const adminLogin = await fetch(`${first}/api/sessions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email: 'admin@shop.local', password: 'admin-password' }),
    });
    const adminAuth = { authorization: `Bearer ${((await adminLogin.json()) as { token: string }).token}` };
    let subjects: string[] = [];
    for (let tries = 0; tries < 100 && subjects.length < 2; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      subjects = (
        (await (await fetch(`${second}/ops/mail?to=ines@example.com`, { headers: adminAuth })).json()) as Array<{
          subject: string;
        }>
      ).map((mail) => mail.subject);
    }
    expect(subjects).toEqual(
      expect.arrayContaining(['Welcome to the shop, ines!', expect.stringMatching(/confirmed$/)]),
    );

    // The order's trace crosses the processes: each writes its spans to the shared span store, and
    // either API process's ops view reads them all as one trace.
    const orderId = location.split('/').pop() as string;
    let spans: Array<{ name: string; role: string; traceId: string }> = [];
    const has = (role: string, name: string) => spans.some((span) => span.role === role && span.name === name);
    for (
      let tries = 0;
      // Each process exports its spans in batches, so one span of a role can come later than
      // another: wait for every span asserted below, not only the last call's.
      tries < 150 &&
      !(
        spans.some((span) => span.name === 'POST /provider/payments/capture') &&
        has('relay', 'send orders') &&
        ['process orders', 'payment authorize', 'payment capture'].every((name) => has('orders', name)) &&
        new Set(spans.map((span) => span.role)).size >= 5
      );
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      spans = (
        (await (await fetch(`${second}/ops/traces/${orderId}`, { headers: adminAuth })).json()) as {
          spans: typeof spans;
        }
      ).spans;
    }
    expect(new Set(spans.map((span) => span.traceId)).size).toBe(1);
    expect(new Set(spans.map((span) => span.role))).toEqual(new Set(['api', 'relay', 'orders', 'payment', 'email']));
    expect(spans.filter((span) => span.role === 'relay').map((span) => span.name)).toContain('send orders');
    expect(spans.filter((span) => span.role === 'orders').map((span) => span.name)).toEqual(
      expect.arrayContaining(['process orders', 'payment authorize', 'payment capture']),
    );
  });

  it('each role serves exactly its routes: every role health and metrics, the API role the shop, the payment role the provider', async () => {
    const status = async (role: string, method: string, path: string) =>
      (
        await fetch(`${byRole[role]}${path}`, {
          method,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          ...(method === 'GET' ? {} : { body: '{}' }),
        })
      ).status;
    const shopRoutes: Array<[string, string]> = [
      ['GET', '/api/products'],
      ['GET', '/api/cart'],
      ['POST', '/api/users'],
      ['POST', '/api/sessions'],
      ['POST', '/api/orders'],
      ['GET', '/ops/status'],
      ['GET', '/ops/faults'],
    ];
    const providerRoute: [string, string] = ['POST', '/provider/payments/authorize'];
    for (const role of ['orders', 'email', 'relay', 'payment', 'api']) {
      expect(await status(role, 'GET', '/health/live'), role).toBe(200);
      expect(await status(role, 'GET', '/metrics'), role).toBe(200);
      for (const [method, path] of shopRoutes) {
        const answer = await status(role, method, path);
        if (role === 'api') expect(answer, `${role} ${method} ${path}`).not.toBe(404);
        else expect(answer, `${role} ${method} ${path}`).toBe(404);
      }
      // The provider's schema refuses the empty body: 400 where the route exists, 404 elsewhere.
      expect(await status(role, ...providerRoute), role).toBe(role === 'payment' ? 400 : 404);
    }
  });
});
