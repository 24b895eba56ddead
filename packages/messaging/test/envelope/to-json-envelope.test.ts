import {
  createEnvelope,
  InvalidMessagingValueError,
  isJsonEnvelope,
  type JsonEnvelope,
  parseJsonEnvelope,
  toJsonEnvelope,
} from '@bulwark/messaging';
import { describe, expect, it } from 'vitest';

const envelope = createEnvelope({
  topic: 'orders',
  type: 'order.placed',
  key: 'order-1',
  groupId: 'customer-1',
  payload: { total: 12.5 },
  headers: { correlationId: 'c-1' },
});
const text = JSON.stringify(envelope);
const refused = (field: string) => ({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });

describe('toJsonEnvelope', () => {
  it('makes a JsonEnvelope of the text of an envelope, with its routing fields beside it', () => {
    const made = toJsonEnvelope(text);
    expect(isJsonEnvelope(made)).toBe(true);
    expect({ ...made }).toEqual({
      json: text,
      id: envelope.id,
      topic: 'orders',
      type: 'order.placed',
      key: 'order-1',
      groupId: 'customer-1',
      correlationId: 'c-1',
    });
    expect(parseJsonEnvelope(made)).toEqual(envelope);
  });

  it.each([
    ['text that is not JSON', 'order placed', 'json'],
    ['text cut short', text.slice(0, -1), 'json'],
    ['an array', '[]', 'json'],
    ['null', 'null', 'json'],
    ['an envelope without headers', JSON.stringify({ ...envelope, headers: undefined }), 'message.headers'],
    ['a header that is not text', JSON.stringify({ ...envelope, headers: { retries: 3 } }), 'message.headers.retries'],
    ['an envelope without a payload', JSON.stringify({ ...envelope, payload: undefined }), 'message.payload'],
    ['an envelope without a topic', JSON.stringify({ ...envelope, topic: undefined }), 'message.topic'],
    ['an id that is a number', JSON.stringify({ ...envelope, id: 7 }), 'message.id'],
    ['a NUL in the type', JSON.stringify({ ...envelope, type: 'order\u0000placed' }), 'message.type'],
    [
      'nesting too deep to write out again',
      `${text.slice(0, -1)},"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      'json',
    ],
  ])('refuses %s with InvalidMessagingValueError', (_label, given, field) => {
    expect(() => toJsonEnvelope(given)).toThrow(InvalidMessagingValueError);
    expect(() => toJsonEnvelope(given)).toThrowError(expect.objectContaining(refused(field)));
  });

  it('refuses what is not a string', () => {
    expect(() => toJsonEnvelope(Buffer.from(text) as unknown as string)).toThrowError(
      expect.objectContaining(refused('json')),
    );
  });

  it('writes the envelope out again as publish would: 1e400 as null, -0 as 0, a raw lone surrogate escaped', () => {
    const odd = `${text.slice(0, -1)},"huge":1e400,"zero":-0,"lone":"\ud83d"}`;
    const made = toJsonEnvelope(odd);
    const parsed = JSON.parse(made.json) as Record<string, unknown>;
    expect(parsed).toMatchObject({ huge: null, lone: '\ud83d' });
    expect(parsed.zero).toBe(0);
    expect(made.json).toContain('"lone":"\\ud83d"');
  });
});

describe('isJsonEnvelope and parseJsonEnvelope', () => {
  it('tell a JsonEnvelope from an object with its fields, or a copy of one', () => {
    const made = toJsonEnvelope(text);
    const lookalikes: unknown[] = [
      { ...made },
      { json: text, id: envelope.id, topic: 'orders', type: 'order.placed' },
      null,
      text,
    ];
    for (const lookalike of lookalikes) {
      expect(isJsonEnvelope(lookalike)).toBe(false);
      expect(() => parseJsonEnvelope(lookalike as JsonEnvelope)).toThrowError(
        expect.objectContaining(refused('message')),
      );
    }
  });
});
