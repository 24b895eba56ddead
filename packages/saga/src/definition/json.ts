import { textProblem } from '@bulwark/resilience';
import { SagaNotSerializableError } from '../errors/saga-error.js';

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Throws {@link SagaNotSerializableError} unless `value` is plain JSON: null, booleans, finite
 * numbers, strings, arrays and plain objects of those, without cycles. Stricter than
 * `JSON.stringify` on purpose: a value that would silently change in the log (a `Date` turned
 * into a string, an `undefined` property dropped, `NaN` turned into null) is refused, because a
 * saga resumed after a crash must see exactly what the first run saw.
 */
export function assertJson(value: unknown, subject: string): asserts value is JsonValue {
  const seen = new Set<object>();
  const visit = (current: unknown, path: string): void => {
    if (current === null) return;
    switch (typeof current) {
      case 'string': {
        // PostgreSQL jsonb holds no NUL, and a lone surrogate has no UTF-8 form.
        const problem = textProblem(current);
        if (problem) throw new SagaNotSerializableError(subject, path, `the string ${problem}`);
        return;
      }
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(current)) throw new SagaNotSerializableError(subject, path, `${current} is not finite`);
        return;
      case 'object':
        break;
      default:
        throw new SagaNotSerializableError(subject, path, `a value of type ${typeof current} cannot be stored as JSON`);
    }
    const object = current as object;
    if (seen.has(object)) throw new SagaNotSerializableError(subject, path, 'the value contains a cycle');
    seen.add(object);
    if (Array.isArray(object)) {
      object.forEach((item, index) => {
        visit(item, `${path}[${index}]`);
      });
    } else {
      const prototype = Object.getPrototypeOf(object);
      if (prototype !== Object.prototype && prototype !== null) {
        const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
        throw new SagaNotSerializableError(subject, path, `a ${kind} is not a plain object`);
      }
      for (const [key, item] of Object.entries(object)) {
        const problem = textProblem(key);
        if (problem) throw new SagaNotSerializableError(subject, path, `a property name ${problem}`);
        visit(item, `${path}.${key}`);
      }
    }
    seen.delete(object);
  };
  visit(value, '$');
}
