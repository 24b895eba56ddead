/** The outcome of reading an `Idempotency-Key` header. */
export type IdempotencyKeyParse =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly key: string }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'too-long'; readonly length: number };

const isVisibleAscii = (code: number) => code >= 0x21 && code <= 0x7e;

/**
 * Reads an `Idempotency-Key` header value. draft-ietf-httpapi-idempotency-key-header defines it
 * as a Structured Field String (`Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`);
 * the unquoted form many clients send (`Idempotency-Key: 8e03978e-…`, as Stripe accepts) is
 * accepted too when it is one run of visible ASCII characters.
 */
export function parseIdempotencyKey(
  value: string | readonly string[] | undefined,
  maxLength: number,
): IdempotencyKeyParse {
  if (value === undefined) return { kind: 'absent' };
  if (typeof value !== 'string') {
    if (value.length === 0) return { kind: 'absent' };
    if (value.length > 1)
      return { kind: 'malformed', reason: 'the header was sent more than once; send it exactly once' };
    return parseIdempotencyKey(value[0], maxLength);
  }
  const text = value.trim();
  if (text === '') return { kind: 'malformed', reason: 'the header is empty' };
  let key: string;
  if (text.startsWith('"')) {
    // sf-string: DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, printable ASCII only.
    let result = '';
    let index = 1;
    let closed = false;
    while (index < text.length) {
      const char = text[index] as string;
      const code = char.charCodeAt(0);
      if (char === '\\') {
        const next = text[index + 1];
        if (next !== '"' && next !== '\\') {
          return { kind: 'malformed', reason: 'a backslash in a quoted key may only escape " or \\' };
        }
        result += next;
        index += 2;
        continue;
      }
      if (char === '"') {
        closed = true;
        index += 1;
        break;
      }
      if (code < 0x20 || code > 0x7e) {
        return { kind: 'malformed', reason: 'the key may only contain printable ASCII characters' };
      }
      result += char;
      index += 1;
    }
    if (!closed) return { kind: 'malformed', reason: 'the quoted key has no closing double quote' };
    if (index !== text.length) {
      return { kind: 'malformed', reason: 'there is text after the closing double quote (one key per request)' };
    }
    key = result;
  } else {
    for (let index = 0; index < text.length; index++) {
      if (!isVisibleAscii(text.charCodeAt(index)) || text[index] === '"' || text[index] === ',') {
        return {
          kind: 'malformed',
          reason: 'an unquoted key must be visible ASCII without spaces, commas or quotes; send it as a quoted string',
        };
      }
    }
    key = text;
  }
  if (key === '') return { kind: 'malformed', reason: 'the key is empty' };
  if (key.length > maxLength) return { kind: 'too-long', length: key.length };
  return { kind: 'valid', key };
}
