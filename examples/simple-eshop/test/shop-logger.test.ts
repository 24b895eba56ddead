// Logs: JSON lines by default, one readable line an event with LOG_FORMAT=pretty (`pnpm dev`).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { shopLogger } from '../src/logging/shop-logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('shop logger', () => {
  it('writes one JSON object a line by default, passwords redacted', () => {
    const { lines, stream } = capture();
    shopLogger({ logLevel: 'info', logFormat: 'json' }, stream).info({ user: { password: 'x' }, n: 1 }, 'hello');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ msg: 'hello', n: 1, user: { password: '[Redacted]' } });
  });

  it('writes one readable line an event with the pretty format, fields included', () => {
    const { lines, stream } = capture();
    const logger = shopLogger({ logLevel: 'info', logFormat: 'pretty' }, stream);
    logger.info({ orderId: 'o-1', nested: { a: 1 } }, 'order placed');
    logger.warn('payment slow');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: order placed .*"orderId":"o-1"/);
    expect(lines[1]).toMatch(/WARN: payment slow$/);
    expect(() => JSON.parse(lines[0] as string)).toThrow();
  });

  it('reads LOG_FORMAT: json by default, pretty on request, anything else refused', () => {
    const env = { DATA_DIR: '/tmp/shop-logger-test', JWT_SECRET: 's' };
    expect(loadConfig(env, []).logFormat).toBe('json');
    expect(loadConfig({ ...env, LOG_FORMAT: 'pretty' }, []).logFormat).toBe('pretty');
    expect(() => loadConfig({ ...env, LOG_FORMAT: 'yaml' }, [])).toThrow(ConfigError);
  });
});
