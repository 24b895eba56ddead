import { createServer } from 'node:net';

/**
 * Ports for servers a test starts itself come from below Linux's ephemeral range (32768–60999),
 * where `listen(0)` never hands a port out: a fault proxy that is "down" has released its
 * ephemeral port, and a private server given that port would receive the proxy's clients when
 * they reconnect (a Redis fault test once counted its decisions on another test's server).
 */
const first = 20_000;
const last = 32_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 right now, for a server a test starts itself. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = first + Math.floor(Math.random() * (last - first));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free TCP port between ${first} and ${last} on 127.0.0.1`);
}
