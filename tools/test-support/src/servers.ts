// Finds the real servers that server-backed suites need. Under CI=true an unreachable server
// fails the run (a skipped suite must never pass as green there); elsewhere the suite is
// skipped with one loud line saying which suite and why.
import { connect } from 'node:net';
import { describe, it } from 'vitest';

/** Prefix of the test that stands for a suite skipped because its server is unreachable. */
export const skippedSuiteMarker = 'SKIPPED (server unreachable):';

export type ServerKind = 'postgres' | 'redis' | 'amqp' | 'nats';

const defaults: Record<ServerKind, { variable: string; url: string }> = {
  postgres: { variable: 'DATABASE_URL', url: 'postgres://postgres@127.0.0.1:5432/test' },
  redis: { variable: 'REDIS_URL', url: 'redis://127.0.0.1:6379' },
  amqp: { variable: 'AMQP_URL', url: 'amqp://guest:guest@127.0.0.1:5672' },
  nats: { variable: 'NATS_URL', url: 'nats://127.0.0.1:4222' },
};

/** The URL of a server kind, from its environment variable or the loopback default. */
export function serverUrl(kind: ServerKind): string {
  const { variable, url } = defaults[kind];
  return process.env[variable] || url;
}

const defaultPorts: Record<string, number> = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'redis:': 6379,
  'amqp:': 5672,
  'nats:': 4222,
};

/** Resolves true when a TCP connection to the URL's host and port opens within `timeoutMs`. */
export function isReachable(url: string, timeoutMs = 1_500): Promise<boolean> {
  const parsed = new URL(url);
  const port = Number(parsed.port) || defaultPorts[parsed.protocol] || 0;
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export const isCI = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/**
 * Checks that every server a suite needs is reachable. Returns their URLs, or `undefined`
 * when the suite must skip (outside CI only). Throws under CI=true.
 */
export async function requireServers<const Kinds extends readonly ServerKind[]>(
  suite: string,
  kinds: Kinds,
): Promise<Record<Kinds[number], string> | undefined> {
  return (await checkServers(suite, kinds)).urls;
}

async function checkServers<const Kinds extends readonly ServerKind[]>(
  suite: string,
  kinds: Kinds,
): Promise<{ urls?: Record<Kinds[number], string>; reason?: string }> {
  const urls = {} as Record<Kinds[number], string>;
  for (const kind of kinds) {
    const url = serverUrl(kind);
    if (!(await isReachable(url))) {
      const reason = `${kind} is unreachable at ${redact(url)} (set ${defaults[kind].variable})`;
      if (isCI()) throw new Error(`[servers] suite "${suite}" cannot run under CI: ${reason}`);
      console.warn(`\n!!!!! SKIPPED SUITE "${suite}": ${reason} !!!!!\n`);
      return { reason };
    }
    urls[kind as Kinds[number]] = url;
  }
  return { urls };
}

/**
 * `describe` for a suite that needs real servers: runs it with their URLs, skips it loudly
 * outside CI when one is down, and fails under CI.
 *
 * ```ts
 * describeWithServers('postgresOutbox', ['postgres'], ({ postgres }) => { ... });
 * ```
 */
export async function describeWithServers<const Kinds extends readonly ServerKind[]>(
  suite: string,
  kinds: Kinds,
  body: (urls: Record<Kinds[number], string>) => void,
): Promise<void> {
  const { urls, reason } = await checkServers(suite, kinds);
  if (urls) describe(suite, () => body(urls));
  // One skipped test stands for the suite, so the run's closing line counts and names it.
  else describe.skip(suite, () => it(`${skippedSuiteMarker} ${reason}`, () => {}));
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

let counter = 0;
/** A name unique to this process and call, for tables, key prefixes, queues and topics. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`.toLowerCase();
}
