import { assertJson, SagaNotSerializableError } from '@bulwark/saga';
import { describe, expect, it } from 'vitest';

const problemOf = (value: unknown) => {
  try {
    assertJson(value, 'value');
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SagaNotSerializableError);
    const { path, problem } = error as SagaNotSerializableError;
    return `${path}: ${problem}`;
  }
};

describe('assertJson', () => {
  it('accepts plain JSON, including null-prototype objects and shared (non-cyclic) references', () => {
    const shared = { a: 1 };
    const bare = Object.assign(Object.create(null) as object, { x: [1, 'two', true, null] });
    for (const value of [null, 0, -1.5, '', 'text', false, [], {}, { nested: { list: [shared, shared] } }, bare])
      expect(problemOf(value)).toBeUndefined();
  });

  it('refuses what JSON would silently change, naming the path', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(problemOf({ at: new Date(0) })).toBe('$.at: a Date is not a plain object');
    expect(problemOf({ items: [1, { price: Number.NaN }] })).toBe('$.items[1].price: NaN is not finite');
    expect(problemOf({ missing: undefined })).toBe('$.missing: a value of type undefined cannot be stored as JSON');
    expect(problemOf([() => 1])).toBe('$[0]: a value of type function cannot be stored as JSON');
    expect(problemOf({ big: 1n })).toBe('$.big: a value of type bigint cannot be stored as JSON');
    expect(problemOf(new Map())).toBe('$: a Map is not a plain object');
    expect(problemOf(cycle)).toBe('$.self: the value contains a cycle');
    expect(problemOf(Number.POSITIVE_INFINITY)).toBe('$: Infinity is not finite');
  });
});
