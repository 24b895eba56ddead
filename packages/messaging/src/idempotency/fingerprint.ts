import { createHash } from 'node:crypto';
import { InvalidOptionsError } from '@bulwark/resilience';

/**
 * Serializes `value` as canonical JSON: object keys sorted by code point, no whitespace,
 * `undefined` members dropped (as `JSON.stringify` does), `toJSON()` honoured. Two values that
 * are equal as JSON produce the same text whatever the order their keys were written in.
 *
 * @throws InvalidOptionsError for values JSON cannot represent faithfully: cycles,
 * `bigint`, non-finite numbers.
 */
export function canonicalJson(value: unknown): string {
  const seen = new Set<object>();
  const write = (current: unknown): string | undefined => {
    if (
      current !== null &&
      typeof current === 'object' &&
      typeof (current as { toJSON?: unknown }).toJSON === 'function'
    ) {
      current = (current as { toJSON: () => unknown }).toJSON();
    }
    switch (typeof current) {
      case 'string':
      case 'boolean':
        return JSON.stringify(current);
      case 'number':
        if (!Number.isFinite(current)) throw unsupported(`the number ${current}`);
        return JSON.stringify(current);
      case 'bigint':
        throw unsupported('a bigint');
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (current === null) return 'null';
    const object = current as object;
    if (seen.has(object)) throw unsupported('a cycle');
    seen.add(object);
    let text: string;
    if (Array.isArray(object)) {
      text = `[${object.map((item) => write(item) ?? 'null').join(',')}]`;
    } else {
      const members: string[] = [];
      for (const key of Object.keys(object).sort()) {
        const member = write((object as Record<string, unknown>)[key]);
        if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
      }
      text = `{${members.join(',')}}`;
    }
    seen.delete(object);
    return text;
  };
  return write(value) ?? 'null';
}

function unsupported(what: string): InvalidOptionsError {
  return new InvalidOptionsError('fingerprint', [`cannot fingerprint ${what}: it has no canonical JSON form`]);
}

/**
 * The fingerprint of a request payload: the hex SHA-256 of its canonical JSON
 * ({@link canonicalJson}), so key order does not matter. Byte arrays (`Uint8Array`, `Buffer`,
 * e.g. a raw request body) are hashed as they are.
 *
 * @example
 * ```ts
 * fingerprint({ amount: 10, currency: 'EUR' }) === fingerprint({ currency: 'EUR', amount: 10 }); // true
 * ```
 */
export function fingerprint(value: unknown): string {
  const hash = createHash('sha256');
  if (value instanceof Uint8Array) hash.update(value);
  else hash.update(canonicalJson(value), 'utf8');
  return hash.digest('hex');
}
