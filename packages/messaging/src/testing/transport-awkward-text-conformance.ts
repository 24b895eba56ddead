// Awkward text for the Transport conformance suite, kept apart from the main cases: what every
// transport must carry unchanged (emoji, right-to-left marks, the longest key; any payload text,
// NUL and lone surrogates included, since transports carry bytes), and what every transport must
// refuse before anything is sent (NUL, lone surrogates or 64 KiB in a topic, group, id, key or
// header), or a message that is no envelope or that the serializer cannot write.
import { largeStorableText, storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { createEnvelope, type Envelope } from '../envelope/envelope.js';
import type { Transport } from '../transport/transport.js';

/** What the awkward-text cases borrow from the transport suite. */
export interface TransportAwkwardTextContext {
  /** A fresh transport, closed by the suite after the test. */
  open(): Promise<Transport>;
  /** A topic and a group unique to the test. */
  names(): { topic: string; group: string };
  readonly timeoutMs: number;
}

const invalidValue = (field: string) => ({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });

/** Registers the awkward-text cases inside a transport's conformance `describe`. */
export function transportAwkwardTextConformance(context: TransportAwkwardTextContext): void {
  const testTimeout = context.timeoutMs * 2;

  /** Subscribes, and resolves the messages received once `count` have arrived. */
  const receive = async (transport: Transport, topic: string, group: string) => {
    const received: Envelope[] = [];
    await transport.subscribe(topic, group, async (delivery) => {
      received.push(delivery.message);
      await delivery.ack();
    });
    return {
      received,
      async until(count: number) {
        const deadline = Date.now() + context.timeoutMs;
        while (received.length < count) {
          if (Date.now() > deadline) throw new Error(`Only ${received.length} of ${count} messages arrived`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return received;
      },
    };
  };

  /** Nothing of the refused calls went out: the first, and only, message to arrive is a marker published last. */
  const onlyMarkerArrives = async (
    transport: Transport,
    topic: string,
    inbox: Awaited<ReturnType<typeof receive>>,
  ): Promise<void> => {
    const marker = createEnvelope({ topic, type: 'awkward.marker', payload: {} });
    await transport.publish(topic, [marker]);
    expect((await inbox.until(1))[0]?.id).toBe(marker.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inbox.received.map((message) => message.type)).toEqual(['awkward.marker']);
  };

  describe('awkward text', () => {
    it(
      'carries emoji, right-to-left marks and the longest key in ids, keys, types and headers, and any text in payloads',
      async () => {
        const transport = await context.open();
        const { topic, group } = context.names();
        const texts = Object.entries(storableTexts);
        const sent = texts.map(([label, text], index) =>
          createEnvelope({
            topic,
            id: text === storableTexts['longest key'] ? text : `${index}-${text}`,
            type: text,
            payload: { label, text, unstorableInSql: unstorableTexts, large: largeStorableText, [text]: text },
            headers: { correlationId: text, [`x-${text.slice(0, 40)}`]: text, large: largeStorableText },
            // Each message its own key, so ordering does not hold one behind another.
            ...(index % 2 === 0 ? { key: text } : { groupId: text }),
          }),
        );
        const inbox = await receive(transport, topic, group);
        await transport.publish(topic, sent);
        const received = await inbox.until(sent.length);
        const byId = new Map(received.map((message) => [message.id, message]));
        for (const message of sent) expect(byId.get(message.id)).toEqual(message);
      },
      testTimeout,
    );

    for (const [label, text] of Object.entries(storableTexts).filter(([label]) => label !== 'longest key')) {
      it(
        `delivers on a topic and group with ${label}`,
        async () => {
          const transport = await context.open();
          const names = context.names();
          const topic = `${names.topic}.${text}`;
          const group = `${names.group}.${text}`;
          const inbox = await receive(transport, topic, group);
          const message = createEnvelope({ topic, type: 'awkward.topic', payload: { text } });
          await transport.publish(topic, [message]);
          expect(await inbox.until(1)).toEqual([message]);
        },
        testTimeout,
      );
    }

    it(
      'refuses a topic longer than every transport carries (255 UTF-8 bytes) before sending anything',
      async () => {
        const transport = await context.open();
        const { group } = context.names();
        const tooLong = `t${'🛒'.repeat(63)}yyy`;
        expect(Buffer.byteLength(tooLong)).toBe(256);
        const message = createEnvelope({ topic: tooLong, type: 'awkward.long-topic', payload: {} });
        await expect(transport.publish(tooLong, [message])).rejects.toMatchObject(invalidValue('topic'));
        await expect(transport.subscribe(tooLong, group, async () => {})).rejects.toMatchObject(invalidValue('topic'));
      },
      testTimeout,
    );

    for (const [label, text] of Object.entries(unstorableKeys)) {
      it(
        `refuses ${label} in a topic, a group, an id, a type, a key, a group id or a header before sending anything`,
        async () => {
          const transport = await context.open();
          const { topic, group } = context.names();
          const inbox = await receive(transport, topic, group);
          const good = createEnvelope({ topic, type: 'awkward.good', payload: { good: true } });
          const bad: Array<[string, Envelope]> = [
            ['message.id', createEnvelope({ topic, id: text, type: 'awkward', payload: {} })],
            ['message.type', createEnvelope({ topic, type: text, payload: {} })],
            ['message.key', createEnvelope({ topic, type: 'awkward', key: text, payload: {} })],
            ['message.groupId', createEnvelope({ topic, type: 'awkward', groupId: text, payload: {} })],
          ];
          if (label !== 'a 64 KiB key') {
            // Header values may be long; only text no backend holds is refused in them.
            bad.push([
              'message.headers.traceparent',
              createEnvelope({ topic, type: 'awkward', payload: {}, headers: { traceparent: text } }),
            ]);
          }
          for (const [field, message] of bad) {
            // The good message first: a batch is refused whole.
            await expect(transport.publish(topic, [good, message])).rejects.toMatchObject(invalidValue(field));
          }
          await expect(transport.publish(text, [good])).rejects.toMatchObject(invalidValue('topic'));
          await expect(transport.subscribe(text, group, async () => {})).rejects.toMatchObject(invalidValue('topic'));
          await expect(transport.subscribe(topic, text, async () => {})).rejects.toMatchObject(invalidValue('group'));
          await onlyMarkerArrives(transport, topic, inbox);
        },
        testTimeout,
      );
    }

    it(
      'refuses a message that is not an envelope, or that cannot be serialized, before sending anything',
      async () => {
        const transport = await context.open();
        const { topic, group } = context.names();
        const inbox = await receive(transport, topic, group);
        const good = createEnvelope({ topic, type: 'awkward.good', payload: { good: true } });
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const deep = JSON.parse(`${'['.repeat(50_000)}${']'.repeat(50_000)}`) as unknown;
        const bad: unknown[] = [
          null,
          'order placed',
          createEnvelope({ topic, type: 'awkward', payload: { total: 10n } }),
          createEnvelope({ topic, type: 'awkward', payload: cyclic }),
          createEnvelope({ topic, type: 'awkward', payload: deep }),
        ];
        for (const message of bad)
          await expect(transport.publish(topic, [good, message as Envelope])).rejects.toMatchObject(
            invalidValue('message'),
          );
        await onlyMarkerArrives(transport, topic, inbox);
      },
      testTimeout,
    );
  });
}
