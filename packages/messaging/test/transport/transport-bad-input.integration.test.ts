// Bad input to publish and publishJson on the real brokers (property): whatever a caller hands
// over, each call either rejects with InvalidMessagingValueError before anything is sent, or every
// message of it arrives as JSON.stringify of the envelope writes it; publishJson takes only what
// toJsonEnvelope made, and takes no text that publish of the parsed envelope would refuse.
import { type Envelope, InvalidMessagingValueError, type JsonEnvelope, toJsonEnvelope } from '@bulwark/messaging';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { hostileText, textOf } from './fixtures/hostile-envelopes.js';
import { jsonBrokers } from './fixtures/json-brokers.js';

const timeoutMs = 10_000;

/** Resolves whether `call` was refused; fails the property on any error but InvalidMessagingValueError. */
async function refused(call: () => Promise<unknown> | undefined): Promise<boolean> {
  try {
    await call();
    return false;
  } catch (error) {
    expect(error, 'a refusal is an InvalidMessagingValueError').toBeInstanceOf(InvalidMessagingValueError);
    return true;
  }
}

/** `text` parsed, or `undefined` when it is not JSON (publish is then not tried: there is no envelope). */
function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a consumer reads of `value` sent through `publish`: JSON.stringify of it, read back. */
const asSent = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

for (const broker of jsonBrokers) {
  await describeWithServers(
    `${broker.name}: bad input to publish and publishJson (property)`,
    [broker.server],
    (urls) => {
      it('refuses bad input whole with InvalidMessagingValueError and sends nothing of it; what it takes arrives as publish writes it', async () => {
        const { transport, remove } = await broker.open(urls[broker.server]);
        const topic = uniqueName('bad-input');
        const received = new Map<unknown, unknown[]>();
        await transport.subscribe(topic, 'inspect', async (delivery) => {
          received.set(delivery.message.id, [...(received.get(delivery.message.id) ?? []), delivery.message]);
        });
        /** Id → what must arrive; ids of refused calls never may. */
        const expected = new Map<unknown, unknown>();
        const refusedIds = new Set<unknown>();
        let run = 0;

        /** Makes one call; records what must arrive (`arrive`, by id), or must not. Resolves whether it was taken. */
        const settle = async (
          send: () => Promise<void> | undefined,
          ids: readonly unknown[],
          arrive: (index: number) => unknown,
        ) => {
          const taken = !(await refused(send));
          for (const [index, id] of ids.entries()) {
            if (taken) expected.set(id, arrive(index));
            else refusedIds.add(id);
          }
          return taken;
        };

        try {
          await fc.assert(
            fc.asyncProperty(
              fc.array(hostileText, { minLength: 1, maxLength: 3 }),
              fc.boolean(),
              async (cases, withLookalike) => {
                run += 1;
                const viaJson = cases.map((hostile, index) => textOf(hostile, `r${run}.${index}.json-`));
                const viaPublish = cases.map((hostile, index) => textOf(hostile, `r${run}.${index}.publish-`));
                // publishJson: each text through toJsonEnvelope; a text it refuses goes in as an object
                // with the fields, as a caller without toJsonEnvelope would hand it over.
                const messages: JsonEnvelope[] = [];
                let allMade = true;
                for (const text of viaJson) {
                  try {
                    messages.push(toJsonEnvelope(text));
                  } catch (error) {
                    expect(error).toBeInstanceOf(InvalidMessagingValueError);
                    allMade = false;
                    const fields = (parsedOrUndefined(text) ?? {}) as Partial<Envelope>;
                    messages.push({
                      json: text,
                      id: fields.id,
                      topic: fields.topic,
                      type: fields.type,
                    } as JsonEnvelope);
                  }
                }
                if (withLookalike) messages.push({ ...(messages[0] as JsonEnvelope) });
                const jsonIds = messages.map((message) => message.id);
                const jsonTaken = await settle(
                  () => transport.publishJson?.(topic, messages),
                  jsonIds,
                  (index) => JSON.parse((messages[index] as JsonEnvelope).json),
                );
                expect(jsonTaken, 'publishJson takes what toJsonEnvelope made, and nothing else').toBe(
                  allMade && !withLookalike,
                );
                // publish: the same envelopes, parsed, where the text is JSON at all.
                const parsed = viaPublish.map(parsedOrUndefined);
                if (parsed.some((value) => value === undefined)) return;
                const publishTaken = await settle(
                  () => transport.publish(topic, parsed as Envelope[]),
                  parsed.map((value) => (value as Partial<Envelope> | null)?.id),
                  (index) => asSent(parsed[index]),
                );
                if (allMade) expect(publishTaken, 'publish takes what toJsonEnvelope took').toBe(true);
              },
            ),
            { numRuns: 200 },
          );
          // A marker published last: once it is in, everything sent before it is too (one consumer, one topic).
          const marker = { id: 'marker', topic, type: 'marker', payload: {}, headers: {}, occurredAt: '' };
          await transport.publishJson?.(topic, [toJsonEnvelope(JSON.stringify(marker))]);
          await waitFor(() => received.has('marker') && [...expected.keys()].every((id) => received.has(id)));
          for (const [id, message] of expected) expect(received.get(id), `message ${id}`).toEqual([message]);
          for (const id of refusedIds) expect(received.has(id), `refused message ${id} arrived`).toBe(false);
          expect(received.size).toBe(expected.size + 1);
          // The generators must keep both outcomes common (about 70 taken, 400 refused in 200 runs).
          expect(expected.size, 'messages taken').toBeGreaterThan(20);
          expect(refusedIds.size, 'messages refused').toBeGreaterThan(100);
        } finally {
          await transport.close({ deadlineMs: 0 });
          await remove();
        }
      }, 120_000);
    },
  );
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for the deliveries');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
