// Awkward text for the SagaLog conformance suite, kept apart from the main cases: ids, names,
// owners, inputs and entries every log must keep unchanged, and values every log must refuse
// before any write.
import { largeStorableText, storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import type { NewSagaLogEntry, SagaLog } from '../log/saga-log.js';

const lease = { now: 1_000, leaseUntil: 60_000 };

/** Registers the awkward-text cases inside a log's conformance `describe`. */
export function sagaLogAwkwardTextConformance(fresh: () => Promise<SagaLog>): void {
  const newRun = (id: string, overrides: { name?: string; owner?: string; input?: unknown } = {}) => ({
    id,
    name: overrides.name ?? 'awkward',
    owner: overrides.owner ?? 'A',
    input: (overrides.input ?? {}) as never,
    leaseUntil: lease.leaseUntil,
    at: lease.now,
  });
  const entry = (data: unknown, step = 'charge'): NewSagaLogEntry => ({
    at: 2_000,
    kind: 'step-completed',
    step,
    data: data as never,
  });

  describe('awkward text', () => {
    for (const [label, text] of Object.entries(storableTexts)) {
      it(`keeps an id, name, owner, step, input and results with ${label} unchanged`, async () => {
        const log = await fresh();
        const input = { text, [text]: [text], large: largeStorableText };
        const { created } = await log.create(newRun(text, { name: text, owner: text, input }), [entry(input, text)]);
        expect(created).toBe(true);
        await log.append(text, text, { entries: [entry({ result: text }, text)], at: 3_000, leaseUntil: 60_000 });
        expect(await log.get(text)).toMatchObject({ id: text, name: text, owner: text, input });
        expect((await log.history(text)).map((saved) => [saved.step, saved.data])).toEqual([
          [text, input],
          [text, { result: text }],
        ]);
        expect(await log.get(`${text.slice(0, -2)}🛍`)).toBeUndefined();
      });
    }

    for (const [label, text] of Object.entries(unstorableKeys)) {
      it(`refuses an id, a name or a step with ${label} with INVALID_VALUE, and writes nothing`, async () => {
        const log = await fresh();
        const invalid = (field: string) => ({ name: 'InvalidSagaValueError', code: 'INVALID_VALUE', field });
        await expect(log.create(newRun(text), [])).rejects.toMatchObject(invalid('id'));
        await expect(log.create(newRun('awkward-name', { name: text }), [])).rejects.toMatchObject(invalid('name'));
        await expect(log.create(newRun('awkward-step'), [entry({}, text)])).rejects.toMatchObject(invalid('step'));
        expect(await log.get('awkward-name')).toBeUndefined();
        expect(await log.get('awkward-step')).toBeUndefined();
        await expect(log.get(text)).rejects.toMatchObject(invalid('id'));
        await expect(log.history(text)).rejects.toMatchObject(invalid('id'));
        await expect(log.claim(text, 'A', lease)).rejects.toMatchObject(invalid('id'));
      });
    }

    for (const [label, text] of Object.entries(unstorableTexts)) {
      it(`refuses ${label} in an owner, an input, a property name or a result, and writes nothing`, async () => {
        const log = await fresh();
        const notSerializable = { name: 'SagaNotSerializableError', code: 'SAGA_NOT_SERIALIZABLE' };
        await expect(log.create(newRun('awkward-owner', { owner: text }), [])).rejects.toMatchObject({
          code: 'INVALID_VALUE',
          field: 'owner',
        });
        await expect(log.create(newRun('awkward-input', { input: { note: text } }), [])).rejects.toMatchObject({
          ...notSerializable,
          path: '$.note',
        });
        await expect(log.create(newRun('awkward-key', { input: { [text]: 1 } }), [])).rejects.toMatchObject(
          notSerializable,
        );
        for (const id of ['awkward-owner', 'awkward-input', 'awkward-key']) expect(await log.get(id)).toBeUndefined();
        await log.create(newRun('awkward-result'), []);
        await expect(
          log.append('awkward-result', 'A', { entries: [entry({ deep: [{ text }] })], at: 3_000, leaseUntil: 60_000 }),
        ).rejects.toMatchObject({ ...notSerializable, path: '$.deep[0].text' });
        expect(await log.history('awkward-result')).toEqual([]);
      });
    }
  });
}
