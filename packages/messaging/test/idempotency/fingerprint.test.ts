import { canonicalJson, fingerprint } from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

describe('fingerprint', () => {
  it('ignores key order at every depth', () => {
    const a = { amount: 10, currency: 'EUR', lines: [{ sku: 'a', qty: 1 }], meta: { z: 1, a: 2 } };
    const b = { meta: { a: 2, z: 1 }, lines: [{ qty: 1, sku: 'a' }], currency: 'EUR', amount: 10 };
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(canonicalJson(b)).toBe('{"amount":10,"currency":"EUR","lines":[{"qty":1,"sku":"a"}],"meta":{"a":2,"z":1}}');
  });

  it('tells different payloads apart, array order included', () => {
    expect(fingerprint({ amount: 10 })).not.toBe(fingerprint({ amount: 11 }));
    expect(fingerprint([1, 2])).not.toBe(fingerprint([2, 1]));
    expect(fingerprint('1')).not.toBe(fingerprint(1));
  });

  it('is the hex sha256 of the canonical JSON, and hashes bytes as they are', () => {
    expect(fingerprint({})).toBe('44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(fingerprint(Buffer.from('{}'))).toBe(fingerprint({}));
  });

  it('drops undefined members like JSON does and honours toJSON', () => {
    expect(canonicalJson({ a: undefined, b: 1, d: new Date(0) })).toBe('{"b":1,"d":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson([undefined])).toBe('[null]');
  });

  it('refuses what has no canonical JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => fingerprint(cyclic)).toThrow(InvalidOptionsError);
    expect(() => fingerprint({ n: Number.NaN })).toThrow(InvalidOptionsError);
    expect(() => fingerprint({ n: 1n })).toThrow(InvalidOptionsError);
  });
});
