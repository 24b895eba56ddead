/**
 * What every backend Bulwark writes to can hold unchanged. PostgreSQL `text` refuses NUL (U+0000),
 * `jsonb` refuses `\u0000` inside strings, and a lone UTF-16 surrogate has no UTF-8 form: the `pg`
 * and `ioredis` drivers silently turn it into U+FFFD, so it would not come back as written.
 * Adapters check values with these functions before any write, so one rule holds on every backend.
 */

/**
 * The most UTF-8 bytes of a key, id, topic or group name. Keys sit in B-tree indexes (PostgreSQL
 * refuses index rows above about 2.7 kB, and some indexes hold four such names), and RabbitMQ
 * names stop at 255 bytes.
 */
export const maxKeyBytes = 512;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `text` cannot be stored unchanged (a NUL character, a lone surrogate), as a phrase such as
 * `contains a NUL character (U+0000) at index 3`; `undefined` when it can.
 */
export function textProblem(text: string): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL character (U+0000) at index ${nul}`;
  return unicodeProblem(text);
}

/**
 * Why `text` has no UTF-8 form (a lone UTF-16 surrogate), for values kept as bytes, where NUL is
 * fine; `undefined` when it has one.
 */
export function unicodeProblem(text: string): string | undefined {
  const lone = loneSurrogate.exec(text);
  if (lone) {
    const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
    return `contains a lone UTF-16 surrogate (U+${code}) at index ${lone.index}, which has no UTF-8 form`;
  }
  return undefined;
}

/**
 * Why `key` cannot serve as a key, id, topic or group name on every backend: what
 * {@link textProblem} finds, an empty string, or more than `maxBytes` UTF-8 bytes.
 */
export function keyProblem(key: unknown, maxBytes: number = maxKeyBytes): string | undefined {
  if (typeof key !== 'string') return `is a ${key === null ? 'null' : typeof key}, not a string`;
  if (key.length === 0) return 'is empty';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxBytes) return `is ${bytes} UTF-8 bytes long, more than the ${maxBytes} allowed`;
  return textProblem(key);
}

/** Where inside a JSON value a string or property name cannot be stored, and why. */
export interface JsonTextProblem {
  /** A path such as `$.items[2].name`. */
  readonly path: string;
  readonly problem: string;
}

/**
 * The first string or property name inside `value` that {@link textProblem} refuses (PostgreSQL
 * `jsonb` holds neither NUL nor lone surrogates). Walks without recursion, so deeply nested input
 * cannot overflow the stack.
 */
export function jsonTextProblem(value: unknown): JsonTextProblem | undefined {
  const pending: Array<{ value: unknown; path: string }> = [{ value, path: '$' }];
  const seen = new Set<object>();
  for (let next = pending.pop(); next; next = pending.pop()) {
    const current = next.value;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return { path: next.path, problem };
      continue;
    }
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--)
        pending.push({ value: current[index], path: `${next.path}[${index}]` });
      continue;
    }
    for (const [name, child] of Object.entries(current)) {
      const problem = textProblem(name);
      if (problem) return { path: next.path, problem: `has a property name that ${problem}` };
      pending.push({
        value: child,
        path: `${next.path}${/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`}`,
      });
    }
  }
  return undefined;
}

// NUL is matched on purpose: it is what PostgreSQL refuses.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the character looked for.
const unstorableCharacters = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with every NUL and lone surrogate replaced by U+FFFD, for diagnostics (error messages
 * kept with a failed message or operation) that must be stored whatever they hold.
 */
export function storableDiagnostic(text: string): string {
  return text.replace(unstorableCharacters, '\ufffd');
}
