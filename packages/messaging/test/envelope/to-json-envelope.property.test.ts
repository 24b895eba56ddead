import {
  type Envelope,
  InvalidMessagingValueError,
  isJsonEnvelope,
  type JsonEnvelope,
  memoryTransport,
  toJsonEnvelope,
} from '@bulwark/messaging';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { hostileText, textOf } from '../transport/fixtures/hostile-envelopes.js';

it('toJsonEnvelope refuses bad text with InvalidMessagingValueError only, and what it takes, publish takes too and consumers read alike', async () => {
  const transport = memoryTransport();
  await fc.assert(
    fc.asyncProperty(hostileText, async (hostile) => {
      const text = textOf(hostile, 'case-');
      let made: JsonEnvelope;
      try {
        made = toJsonEnvelope(text);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidMessagingValueError);
        return;
      }
      expect(isJsonEnvelope(made)).toBe(true);
      // What publish of the parsed envelope puts on the wire, read back.
      const parsed = JSON.parse(text) as Envelope;
      expect(JSON.parse(made.json)).toEqual(JSON.parse(JSON.stringify(parsed)));
      expect(Buffer.from(made.json).toString('utf8'), 'the text has a UTF-8 form').toBe(made.json);
      expect(made).toMatchObject({ id: parsed.id, topic: parsed.topic, type: parsed.type });
      expect(made.key).toBe(parsed.key);
      expect(made.groupId).toBe(parsed.groupId);
      expect(made.correlationId).toBe(parsed.headers.correlationId);
      await transport.publish('orders', [parsed]);
    }),
    { numRuns: 1_000 },
  );
  await transport.close();
});
