import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import type { ClaimCheck } from '../claim-check/claim-check.js';
import type { Transport } from '../transport/transport.js';
import type { AsyncReplyStore } from './async-reply-store.js';

/** Options of {@link asyncReply}. */
export interface AsyncReplyOptions {
  /** Keeps each operation's status and result. */
  store: AsyncReplyStore;
  /**
   * Moves big results (and, in worker mode, big inputs) out of the store and the messages.
   * Give its `ttlMs` at least this `ttlMs`, or results outlive their blobs.
   */
  claimCheck?: ClaimCheck;
  /**
   * Worker mode: `accept` publishes the operation on `topic` and workers started with
   * `worker()` (in this or other processes) run it. Without a transport the work runs in this
   * process, in the background, right after `accept`.
   */
  transport?: Transport;
  /** @defaultValue `'bulwark.async-reply'` */
  topic?: string;
  /**
   * Builds the status URL returned by `accept` (the `Location` of the 202).
   * @defaultValue `(id) => '/operations/' + id`
   */
  statusUrl?: (id: string) => string;
  /**
   * How long a record is kept: from `accept` while it waits, and again from the moment it
   * finishes (so a result can be fetched for this long). After it, `status` returns `undefined`.
   * @defaultValue `86_400_000` (24 h)
   */
  ttlMs?: number;
  /**
   * How long a started run owns its operation. If the worker dies, the operation can be started
   * again (by a redelivery of its message) once this has passed. Make it longer than the
   * longest handler.
   * @defaultValue `900_000` (15 min)
   */
  leaseMs?: number;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /** Makes operation ids and run tokens; must return unique, unguessable strings. @defaultValue `crypto.randomUUID` */
  generateId?: () => string;
}

/** The defaults of {@link AsyncReplyOptions}. */
export const asyncReplyDefaults = {
  topic: 'bulwark.async-reply',
  ttlMs: 86_400_000,
  leaseMs: 900_000,
  statusUrl: (id: string) => `/operations/${encodeURIComponent(id)}`,
} as const;

/** Validates options eagerly, reporting every problem at once. */
export function validateAsyncReplyOptions(options: AsyncReplyOptions): void {
  const validator = new OptionsValidator('asyncReply');
  const store = options?.store as Partial<AsyncReplyStore> | undefined;
  if (!store || typeof store.create !== 'function' || typeof store.start !== 'function') {
    validator.report('store must be an AsyncReplyStore');
  }
  const { ttlMs, leaseMs, topic, transport, statusUrl, generateId } = options ?? {};
  if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0))
    validator.report(`ttlMs must be a positive number, got ${ttlMs}`);
  if (leaseMs !== undefined && !(Number.isFinite(leaseMs) && leaseMs > 0)) {
    validator.report(`leaseMs must be a positive number, got ${leaseMs}`);
  }
  if (topic !== undefined && (typeof topic !== 'string' || topic === ''))
    validator.report('topic must be a non-empty string');
  if (transport !== undefined && typeof transport?.publish !== 'function')
    validator.report('transport must be a Transport');
  if (statusUrl !== undefined && typeof statusUrl !== 'function') validator.report('statusUrl must be a function');
  if (generateId !== undefined && typeof generateId !== 'function') validator.report('generateId must be a function');
  validator.throwIfInvalid();
}
