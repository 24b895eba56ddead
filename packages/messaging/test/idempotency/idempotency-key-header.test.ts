import { parseIdempotencyKey } from '@bulwark/messaging';
import { describe, expect, it } from 'vitest';

describe('parseIdempotencyKey', () => {
  it('reads the structured-field string form and the bare form', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"', 255)).toEqual({
      kind: 'valid',
      key: '8e03978e-40d5-43e8-bc93-6894a57f9324',
    });
    expect(parseIdempotencyKey('  abc-123  ', 255)).toEqual({ kind: 'valid', key: 'abc-123' });
    expect(parseIdempotencyKey('"with space and \\"quote\\" and \\\\"', 255)).toEqual({
      kind: 'valid',
      key: 'with space and "quote" and \\',
    });
    expect(parseIdempotencyKey(['"one"'], 255)).toEqual({ kind: 'valid', key: 'one' });
  });

  it('says absent when there is no header', () => {
    expect(parseIdempotencyKey(undefined, 255)).toEqual({ kind: 'absent' });
  });

  it('refuses what is malformed, saying why', () => {
    const cases: [string | string[], RegExp][] = [
      ['', /empty/],
      ['""', /empty/],
      ['"abc', /closing double quote/],
      ['"abc" extra', /after the closing/],
      ['"a", "b"', /after the closing/],
      ['a, b', /unquoted key/],
      ['"tab\there"', /printable ASCII/],
      ['"bad \\escape"', /backslash/],
      ['ünïcode', /unquoted key/],
      [['"a"', '"b"'], /more than once/],
    ];
    for (const [value, reason] of cases) {
      const parsed = parseIdempotencyKey(value, 255);
      expect(parsed.kind, String(value)).toBe('malformed');
      if (parsed.kind === 'malformed') expect(parsed.reason).toMatch(reason);
    }
  });

  it('refuses keys longer than the limit', () => {
    expect(parseIdempotencyKey('k'.repeat(11), 10)).toEqual({ kind: 'too-long', length: 11 });
    expect(parseIdempotencyKey('k'.repeat(10), 10)).toEqual({ kind: 'valid', key: 'k'.repeat(10) });
  });
});
