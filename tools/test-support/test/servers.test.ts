import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isReachable, uniqueName } from '../src/servers.js';

describe('isReachable', () => {
  it('is true for a listening port and false once it closes', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    expect(await isReachable(`redis://127.0.0.1:${port}`)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect(await isReachable(`redis://127.0.0.1:${port}`)).toBe(false);
  });
});

describe('uniqueName', () => {
  it('never repeats within a process', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('t')));
    expect(names.size).toBe(100);
  });
});
