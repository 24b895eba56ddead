// Generators of hostile input for the route fuzz test: text the database cannot hold (NUL, lone
// surrogates), text it must keep (emoji, right-to-left marks), very long strings, deep nesting,
// numbers out of range, `__proto__`/`constructor` keys, wrong content types.
import { storableTexts, unstorableKeys } from '@bulwark/resilience/testing';
import fc from 'fast-check';

/** Strings every part of a request may carry: awkward ones by name, and any code points at all. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  // The named awkward strings weigh most: each route must meet each of them.
  { arbitrary: fc.constantFrom(...Object.values(unstorableKeys), ...Object.values(storableTexts)), weight: 4 },
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', ' ', 'spork', "' OR 1=1 --", '../../etc/passwd', '%00', '\u202e', '\ufeff', '\uffff'),
  fc.integer({ min: 1_000, max: 200_000 }).map((length) => 'x'.repeat(length)),
);

/** Numbers past every column's range, fractions, negative zero, and integers beyond 2^53. */
export const hostileNumberText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('1e400', '-1e400', '1e308', '-0', '0.5', '9007199254740993', '-9223372036854775809', '1e-400'),
  fc.double().map((value) => (Number.isFinite(value) ? String(value) : '1e999')),
  fc.bigInt().map(String),
);

const json = (value: unknown) => JSON.stringify(value);

/** JSON text nested `depth` levels deep, as arrays or objects. */
const nested = fc
  .tuple(fc.integer({ min: 2, max: 60_000 }), fc.boolean())
  .map(([depth, asArray]) =>
    asArray ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  );

/** Field names the shop's bodies use, so generated values reach the handlers. */
const fieldName = fc.constantFrom(
  'username',
  'email',
  'password',
  'items',
  'productId',
  'quantity',
  'note',
  'ids',
  'topic',
  'fault',
  'scenario',
  'enabled',
  'reset',
  'from',
  'to',
  '__proto__',
  'constructor',
  'prototype',
);

/** A JSON value made of hostile strings, numbers and names, written out as text. */
const hostileValueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString.map(json),
    hostileNumberText,
    fc.constantFrom('true', 'false', 'null'),
    fc.array(tie('value'), { maxLength: 4 }).map((values) => `[${values.join(',')}]`),
    fc
      .array(fc.tuple(fc.oneof(fieldName, hostileString), tie('value')), { maxLength: 5 })
      .map((entries) => `{${entries.map(([name, value]) => `${json(name)}:${value}`).join(',')}}`),
  ),
})).value;

/** Bodies close to what each route takes, with one part hostile. */
const nearlyValidBody: fc.Arbitrary<string> = fc.oneof(
  fc
    .record({ productId: hostileString, quantity: hostileNumberText })
    .map(({ productId, quantity }) => `{"items":[{"productId":${json(productId)},"quantity":${quantity}}]}`),
  hostileString.map((note) => json({ note })),
  fc.record({ username: hostileString, email: hostileString, password: hostileString }).map((value) => json(value)),
  hostileString.map((email) => json({ email, password: 'joan-password' })),
  fc.record({ from: hostileString, to: hostileString }).map((value) => json(value)),
  hostileString.map((topic) => json({ topic, ids: [topic] })),
  hostileString.map((fault) => json({ fault, enabled: true })),
  fc.constantFrom(
    '{"__proto__":{"role":"admin"},"items":[]}',
    '{"constructor":{"prototype":{"role":"admin"}},"items":[]}',
    '{"items":[],"__proto__":null}',
    '{"note":"x","constructor":1}',
  ),
);

/** A request body as it goes on the wire, with its content type (undefined: none sent). */
export interface FuzzBody {
  readonly text: string | Uint8Array;
  readonly contentType: string | undefined;
}

/** Wrong content types, and JSON bytes that are not UTF-8. */
const wrongContentType: fc.Arbitrary<FuzzBody> = fc.oneof(
  fc
    .record({
      text: nearlyValidBody,
      contentType: fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=latin1',
        'application/jsonx',
        undefined,
      ),
    })
    .map((body): FuzzBody => body),
  fc
    .uint8Array({ minLength: 1, maxLength: 64 })
    .map(
      (bytes): FuzzBody => ({ text: Uint8Array.from([0x7b, 0x22, 0xff, ...bytes]), contentType: 'application/json' }),
    ),
);

/** Every kind of hostile body: JSON as the routes expect it, with bad parts, or not JSON at all. */
export const hostileBody: fc.Arbitrary<FuzzBody> = fc.oneof(
  { arbitrary: nearlyValidBody.map((text): FuzzBody => ({ text, contentType: 'application/json' })), weight: 4 },
  hostileValueText.map((text): FuzzBody => ({ text, contentType: 'application/json' })),
  nested.map((text): FuzzBody => ({ text, contentType: 'application/json' })),
  fc.string({ unit: 'binary', maxLength: 200 }).map((text): FuzzBody => ({ text, contentType: 'application/json' })),
  wrongContentType,
);

/**
 * Percent-encodes `text` for a URL, lone surrogates included (as the WTF-8 bytes a careless
 * client sends), where `encodeURIComponent` would throw.
 */
export function encodeUrlComponent(text: string): string {
  let encoded = '';
  for (const character of text) {
    const code = character.charCodeAt(0);
    if (character.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      encoded += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join('');
    } else {
      encoded += encodeURIComponent(character);
    }
  }
  return encoded;
}

/** Path parameters: a plain id, a named string no database holds, or any hostile string. */
export const hostilePathParameter: fc.Arbitrary<string> = fc.oneof(
  fc.constant('some-id'),
  fc.constantFrom(...Object.values(unstorableKeys)),
  hostileString,
);

/** Idempotency-Key values a client can send (a header value is Latin-1 without control characters). */
export const hostileHeader: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 300 }).map((text) => text.replace(/[^\t\x20-\x7e]/g, 'x')),
  fc.constantFrom('é€'.replace('€', 'ÿ'), ' padded ', '\t', 'k'.repeat(10_000)),
);
