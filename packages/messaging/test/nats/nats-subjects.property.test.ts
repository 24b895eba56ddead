import { storableTexts } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deduplicationId, delayedSubject, groupConsumerName, topicSubject } from '../../src/nats/nats-subjects.js';

/** What NATS accepts as a published subject: dot-separated, non-empty tokens, no whitespace, no wildcard token. */
const validSubject = (subject: string) =>
  !/\s/.test(subject) && subject.split('.').every((token) => token !== '' && token !== '*' && token !== '>');
/** What NATS accepts as a durable consumer name. */
const validConsumerName = (name: string) => /^[A-Za-z0-9_-]+$/.test(name) && name.length <= 64;

const topics = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.stringMatching(/^[a-z]{1,5}(\.[a-z0-9_-]{1,5}){0,3}$/),
  fc.constantFrom(...Object.values(storableTexts), 'a.*', 'a.>', 'a..b', '.a', 'a b', '>'),
);

describe('NATS subjects and consumer names', () => {
  it('gives every topic a valid subject of its own, apart from the delayed subject', () => {
    fc.assert(
      fc.property(topics, topics, (first, second) => {
        const [a, b] = [topicSubject('bulwark', first), topicSubject('bulwark', second)];
        expect(validSubject(a)).toBe(true);
        expect(a === b).toBe(first === second);
        expect(a).not.toBe(delayedSubject('bulwark'));
        expect(a.startsWith('bulwark.')).toBe(true);
      }),
    );
  });

  it('keeps a plain dotted topic readable', () => {
    expect(topicSubject('shop', 'orders.placed')).toBe('shop.t.orders.placed');
  });

  it('gives every (topic, group) a valid consumer name of its own, the same in every process', () => {
    fc.assert(
      fc.property(topics, topics, topics, (topic, group, other) => {
        const name = groupConsumerName(topic, group);
        expect(validConsumerName(name)).toBe(true);
        expect(groupConsumerName(topic, group)).toBe(name);
        if (other !== group) expect(groupConsumerName(topic, other)).not.toBe(name);
        // The separator keeps ('a', 'bc') and ('ab', 'c') apart.
        expect(groupConsumerName(`${topic}x`, group)).not.toBe(groupConsumerName(topic, `x${group}`));
      }),
    );
  });

  it('derives the deduplication id from topic and message id, so a dead letter keeps its id on another topic', () => {
    fc.assert(
      fc.property(topics, topics, fc.uuid(), (first, second, id) => {
        expect(deduplicationId(first, id) === deduplicationId(second, id)).toBe(first === second);
      }),
    );
  });
});
