import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, faultProxy } from '../src/fault-proxy.js';
import { type FaultRunOptions, runFaultScenarios } from '../src/fault-scenario-runner.js';

// The driver must be able to fail: an echo server behind the proxy stands in for a server, and
// small "adapters" over it behave well or badly on purpose. Faults are kept to a fraction of a second.

class EchoTimeoutError extends Error {}

let echo: Server;
let proxy: FaultProxy;
const sockets = new Set<Socket>();

beforeEach(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await faultProxy({ host: '127.0.0.1', port: (echo.address() as { port: number }).port });
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** One round trip on a new connection; `timeoutMs` undefined waits forever (a hanging adapter). */
async function ping(timeoutMs: number | undefined): Promise<void> {
  const socket = connect(proxy.port, '127.0.0.1');
  sockets.add(socket);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => reject(new EchoTimeoutError()), timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('connect', () => socket.write('ping'));
    });
  } finally {
    socket.destroy();
    sockets.delete(socket);
  }
}

const quick = (overrides: Partial<FaultRunOptions>): FaultRunOptions => ({
  name: 'echo',
  proxy,
  load: () => ping(200),
  callTimeoutMs: 200,
  slackMs: 300,
  recoverWithinMs: 2_000,
  // A refused or reset connection is an adapter's typed error here too.
  isTypedError: (error) => error instanceof EchoTimeoutError || (error as { code?: string }).code !== undefined,
  durations: { downMs: 300, blackholeMs: 600, latencyMs: 50, latencyForMs: 300 },
  concurrency: 2,
  ...overrides,
});

describe('runFaultScenarios', () => {
  it('passes an adapter that settles every call in time, typed, and recovers; measures each fault', async () => {
    const report = await runFaultScenarios(quick({}));
    expect(report.problems).toEqual([]);
    expect(report.results.map((result) => result.fault)).toEqual([
      'cut-mid-call',
      'cut-idle',
      'down 0.3s',
      'blackhole 0.6s',
      'latency 50ms',
    ]);
    const blackhole = report.results.find((result) => result.fault.startsWith('blackhole'));
    expect(blackhole?.typedFailures).toBeGreaterThan(0);
    expect(report.results.every((result) => result.recoveryMs !== undefined)).toBe(true);
    expect(report.summary({ lost: 0 })).toMatch(/^\[faults\] echo: faults=cut-mid-call, .*; lost=0$/);
  }, 20_000);

  it('fails an adapter whose calls hang while the server is silent, without hanging itself', async () => {
    const report = await runFaultScenarios(quick({ load: () => ping(undefined), faults: ['blackhole'] }));
    expect(report.problems.join('\n')).toMatch(/blackhole 0.6s: \d+ call\(s\) did not settle within 500 ms/);
  }, 20_000);

  it('fails an adapter whose failures are not typed', async () => {
    const report = await runFaultScenarios(quick({ isTypedError: () => false, faults: ['down'] }));
    expect(report.problems.join('\n')).toMatch(/down 0.3s: \d+ untyped failure\(s\)/);
  }, 20_000);

  it('fails an adapter whose calls all fail while the server is only slow', async () => {
    const report = await runFaultScenarios(quick({ load: () => ping(60), faults: ['latency'] }));
    expect(report.problems).toEqual(['echo / latency 50ms: no call succeeded while the server was only slow']);
  }, 20_000);

  it('fails an adapter whose load never succeeds, even when its check does', async () => {
    const report = await runFaultScenarios(
      quick({
        load: async () => {
          throw new EchoTimeoutError();
        },
        check: () => ping(200),
        faults: ['cut-idle'],
      }),
    );
    expect(report.problems).toEqual(['echo / cut-idle: no call of the load succeeded']);
  }, 20_000);

  it('fails an adapter that does not recover by itself, and runs custom faults', async () => {
    let broken = false;
    const report = await runFaultScenarios(
      quick({
        load: async () => {
          if (broken) throw new EchoTimeoutError();
          await ping(200);
        },
        recoverWithinMs: 300,
        faults: [
          {
            name: 'breaks for good',
            inject: async () => {
              broken = true;
            },
          },
        ],
      }),
    );
    expect(report.problems).toContain('echo / breaks for good: did not recover');
    expect(report.results[0]?.recoveryMs).toBeUndefined();
  }, 20_000);
});
