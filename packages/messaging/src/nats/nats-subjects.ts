// How topics and groups become NATS subjects and consumer names. Topics may hold any text a key
// may hold (spaces, emoji, `*`, `>`), which NATS subjects cannot; groups may be long, which
// consumer names should not be. Both are mapped so that two different topics (or groups) never
// share a subject (or a consumer).
import { createHash } from 'node:crypto';

/** A topic that is already a valid NATS subject of plain tokens keeps its name, readable in `nats` tools. */
const plainTopic = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The subject a topic's messages are published on: `<prefix>.t.<topic>` for a topic of plain
 * dotted tokens, `<prefix>.b.<base64url of the topic>` for any other (one token, no wildcard can
 * match inside it). The middle token keeps the two forms (and the delayed subject) apart.
 */
export function topicSubject(prefix: string, topic: string): string {
  return plainTopic.test(topic)
    ? `${prefix}.t.${topic}`
    : `${prefix}.b.${Buffer.from(topic, 'utf8').toString('base64url')}`;
}

/** The subject delayed publishes wait on until the transport moves them to their topic. */
export function delayedSubject(prefix: string): string {
  return `${prefix}._delayed`;
}

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000'), 'utf8').digest('base64url');

/**
 * The durable consumer of one (topic, group): a digest, since consumer names allow neither dots
 * nor wildcards and every process must find the same name. The consumer's description carries
 * the readable topic and group.
 */
export function groupConsumerName(topic: string, group: string): string {
  // base64url has `-` and `_` only besides letters and digits, both allowed in consumer names.
  return `g_${digest('group', topic, group).slice(0, 32)}`;
}

/** The durable consumer shared by every transport of a stream that moves delayed publishes. */
export const delayedConsumerName = 'bulwark_delayed';

/**
 * The `Nats-Msg-Id` of a message on a topic. The stream deduplicates by it within its duplicate
 * window. The topic is part of it: the same envelope published to two topics (a dead letter keeps
 * its id) is two messages of one stream.
 */
export function deduplicationId(topic: string, messageId: string): string {
  return digest('message', topic, messageId);
}
