import { randomUUID } from 'node:crypto';

import { createEnvelope, type Delivery, type Envelope, type Subscription, type Transport } from '@bulwark/messaging';
import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import { SagaError } from '../errors/saga-error.js';
import {
  type SagaListQuery,
  type SagaLog,
  type SagaLogCallOptions,
  type SagaLogEntry,
  type SagaRecord,
  type SagaStatus,
  terminalSagaStatuses,
} from '../log/saga-log.js';
import { deterministicMessageId } from '../orchestrator/message-id.js';
import { recordFlowEnded, recordFlowStalled } from '../telemetry/choreography-spans.js';
import type { ChoreographyDefinition } from './choreography-definition.js';
import { eventData, type FlowTransition, flowTransition, stallTransition } from './flow-transition.js';

/** Options of {@link choreographyTracker}. */
export interface ChoreographyTrackerOptions {
  /**
   * Where flows are recorded. Give the tracker a log of its own (e.g. its own table): an
   * orchestrator recovering runs from the same log would take the flows' leases.
   */
  readonly log: SagaLog;
  /** Where flow events are consumed and timeout / compensation events published. */
  readonly transport: Transport;
  readonly flows: readonly ChoreographyDefinition[];
  /** The consumer group of the tracker's subscriptions. @defaultValue `'bulwark-choreography'` */
  readonly group?: string;
  /** This tracker's name in the log's leases. @defaultValue a random UUID */
  readonly owner?: string;
  /** How long the tracker holds a flow while recording one event. @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** How often stalled flows are looked for; `false` leaves it to `checkStalled()`. @defaultValue 5_000 */
  readonly checkEveryMs?: number | false;
  /** Stalled flows handled per check. @defaultValue 100 */
  readonly checkBatch?: number;
  /** Delay before an event of a flow held by another tracker is retried. @defaultValue 50 */
  readonly busyRetryDelayMs?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** The defaults of {@link ChoreographyTrackerOptions}. */
export const choreographyTrackerDefaults = {
  group: 'bulwark-choreography',
  leaseMs: 30_000,
  checkEveryMs: 5_000,
  checkBatch: 100,
  busyRetryDelayMs: 50,
} as const;

/** Follows choreographed flows: see {@link choreographyTracker}. */
export interface ChoreographyTracker extends AsyncDisposable {
  readonly owner: string;
  /**
   * Subscribes to every event type of the flows and starts the stall checks; resolves once
   * subscribed. After `close()` it and `checkStalled` reject with a `SagaError` of code
   * `CHOREOGRAPHY_TRACKER_CLOSED`.
   */
  start(): Promise<void>;
  /**
   * Raises the timeout event (and the compensation event, if configured) of every flow silent
   * for its `stallAfterMs`, and records it; returns how many flows were found stalled.
   */
  checkStalled(options?: SagaLogCallOptions): Promise<number>;
  get(flowId: string, options?: SagaLogCallOptions): Promise<SagaRecord | undefined>;
  /** The flow's timeline, in the same shape as an orchestrated run's. */
  history(flowId: string, options?: SagaLogCallOptions): Promise<SagaLogEntry[]>;
  list(query?: SagaListQuery, options?: SagaLogCallOptions): Promise<SagaRecord[]>;
  /** Stops the subscriptions and the stall checks. The log and transport are not closed. */
  close(): Promise<void>;
}

const isTerminal = (status: SagaStatus) => terminalSagaStatuses.includes(status);

/**
 * Follows choreographed flows by correlation id and records each in the saga log, so
 * `history(id)` shows a choreographed flow like an orchestrated run: the start, each
 * participant's step completed, failed or compensated, and how the flow ended. A flow with no
 * event for its `stallAfterMs` is stalled: the tracker publishes its timeout event (and its
 * compensation event, if configured) and records it.
 *
 * Each event is recorded under the flow's lease, deduplicated by message id, and acked only once
 * recorded; the stall deadline is the log's `wakeAt`, so any tracker finds stalled flows after a crash.
 */
export function choreographyTracker(options: ChoreographyTrackerOptions): ChoreographyTracker {
  const validator = new OptionsValidator('choreographyTracker');
  if (typeof options?.log?.append !== 'function') validator.report('log must be a SagaLog');
  if (typeof options?.transport?.subscribe !== 'function') validator.report('transport must be a Transport');
  if (!Array.isArray(options?.flows) || options.flows.length === 0)
    validator.report('flows must be a non-empty array of choreography definitions');
  else if (new Set(options.flows.map((flow) => flow.name)).size !== options.flows.length)
    validator.report('two flows have the same name');
  for (const key of ['leaseMs', 'checkBatch', 'busyRetryDelayMs'] as const) {
    const value = options?.[key];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0))
      validator.report(`${key} must be a positive number`);
  }
  const every = options?.checkEveryMs;
  if (every !== undefined && every !== false && !(typeof every === 'number' && every > 0))
    validator.report('checkEveryMs must be a positive number or false');
  validator.throwIfInvalid();

  const { log, transport } = options;
  const clock = options.clock ?? systemClock;
  const owner = options.owner ?? randomUUID();
  const group = options.group ?? choreographyTrackerDefaults.group;
  const leaseMs = options.leaseMs ?? choreographyTrackerDefaults.leaseMs;
  const checkEveryMs = options.checkEveryMs ?? choreographyTrackerDefaults.checkEveryMs;
  const checkBatch = options.checkBatch ?? choreographyTrackerDefaults.checkBatch;
  const busyRetryDelayMs = options.busyRetryDelayMs ?? choreographyTrackerDefaults.busyRetryDelayMs;
  const flows = new Map(options.flows.map((flow) => [flow.name, flow]));
  const subscriptions: Subscription[] = [];
  // The log's lease keeps other trackers out, not this one's own concurrent handlers (same
  // owner): one flow's events are recorded one after the other here, so none reads a stale history.
  const flowQueues = new Map<string, Promise<unknown>>();
  const serialized = <T>(flowId: string, work: () => Promise<T>): Promise<T> => {
    const previous = flowQueues.get(flowId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    flowQueues.set(flowId, settled);
    void settled.then(() => {
      if (flowQueues.get(flowId) === settled) flowQueues.delete(flowId);
    });
    return next;
  };
  let starting: Promise<void> | undefined;
  let checkTimer: unknown;
  let closed = false;

  /** Appends a transition and gives the flow back, parked until its next stall deadline. */
  const commit = async (
    flowId: string,
    flow: ChoreographyDefinition,
    transition: FlowTransition,
    wakeAt: number | null,
    previous: SagaStatus,
  ) => {
    const now = clock.now();
    await log.append(flowId, owner, {
      entries: transition.entries.map((entry) => ({ at: now, ...entry })),
      status: transition.status,
      at: now,
      leaseUntil: now,
      release: true,
      wakeAt: isTerminal(transition.status) ? null : (wakeAt ?? now + flow.stallAfterMs),
    });
    if (isTerminal(transition.status) && !isTerminal(previous)) recordFlowEnded(flow.name, transition.status);
  };

  /** Records one event in one flow; `busy` when another tracker holds the flow right now. */
  const track = (flow: ChoreographyDefinition, event: Envelope): Promise<'done' | 'busy'> => {
    const flowId = event.headers.correlationId ?? event.id;
    return serialized(flowId, () => trackNow(flow, flowId, event));
  };

  const trackNow = async (flow: ChoreographyDefinition, flowId: string, event: Envelope): Promise<'done' | 'busy'> => {
    const now = clock.now();
    const starts = event.type === flow.startsWith;
    const { created, record } = await log.create(
      {
        id: flowId,
        name: flow.name,
        input: starts ? eventData(event) : null,
        owner,
        leaseUntil: now + leaseMs,
        at: now,
      },
      // Nested, so the first event seen (not always the start: topics are consumed apart) is
      // still recorded by its own transition below.
      [{ at: now, kind: 'saga-started', data: { firstEvent: eventData(event) } }],
    );
    if (record.name !== flow.name) return 'done';
    let held: SagaRecord | undefined = record;
    if (!created) {
      held = await log.claim(flowId, owner, { now, leaseUntil: now + leaseMs });
      if (!held) {
        const existing = await log.get(flowId);
        return existing && !isTerminal(existing.status) ? 'busy' : 'done';
      }
    }
    const history = await log.history(flowId);
    const transition = flowTransition(flow, held.status, history, event);
    // An event that changed nothing keeps the deadline: a flow repeating itself is still stalled.
    const progressed = transition.entries.length > 0 || created;
    await commit(flowId, flow, transition, progressed ? null : held.wakeAt, held.status);
    return 'done';
  };

  const onEvent = async (topic: string, delivery: Delivery): Promise<void> => {
    const event = delivery.message;
    let busy = false;
    for (const flow of flows.values())
      if (flow.events.includes(topic) && flow.events.includes(event.type))
        busy = (await track(flow, event)) === 'busy' || busy;
    if (busy) await delivery.nack({ delayMs: busyRetryDelayMs });
  };

  const publishOnce = async (flowId: string, type: string, payload: Record<string, string | number>) => {
    const message = createEnvelope(
      {
        id: deterministicMessageId(`${flowId}:${type}`),
        topic: type,
        type,
        payload,
        headers: { correlationId: flowId },
      },
      { clock },
    );
    await transport.publish(type, [message]);
  };

  const stall = async (record: SagaRecord): Promise<boolean> => {
    const flow = flows.get(record.name);
    const now = clock.now();
    if (!flow) {
      // Not one of ours: give it back untouched.
      await log.append(record.id, owner, { entries: [], at: now, leaseUntil: 0, release: true, wakeAt: record.wakeAt });
      return false;
    }
    const deadline = record.wakeAt ?? record.updatedAt + flow.stallAfterMs;
    if (deadline > now) {
      await commit(record.id, flow, { entries: [], status: record.status }, deadline, record.status);
      return false;
    }
    const history = await log.history(record.id);
    const stalledForMs = now - (history.at(-1)?.at ?? record.updatedAt);
    const transition = stallTransition(flow, record.status, history, stalledForMs);
    // Published before recording: a crash in between publishes the same message ids again.
    await publishOnce(record.id, flow.onStall.emit, {
      flow: flow.name,
      flowId: record.id,
      status: record.status,
      stalledForMs,
    });
    if (record.status === 'running' && flow.onStall.compensateWith !== undefined)
      await publishOnce(record.id, flow.onStall.compensateWith, {
        flow: flow.name,
        flowId: record.id,
        reason: 'stalled',
      });
    await commit(record.id, flow, transition, null, record.status);
    recordFlowStalled(flow.name);
    return true;
  };

  const closedError = () => new SagaError('CHOREOGRAPHY_TRACKER_CLOSED', 'The choreography tracker is closed');

  const checkStalled = async (callOptions?: SagaLogCallOptions): Promise<number> => {
    if (closed) throw closedError();
    const now = clock.now();
    const records = await log.claimRecoverable(
      owner,
      { now, leaseUntil: now + leaseMs, limit: checkBatch },
      callOptions,
    );
    let stalled = 0;
    for (const record of records) if (await serialized(record.id, () => stall(record))) stalled += 1;
    return stalled;
  };

  const checkLoop = () => {
    if (checkEveryMs === false) return;
    checkTimer = clock.setTimeout(async () => {
      try {
        await checkStalled();
      } catch {
        // The log or the transport is down: the flows stay due and the next check finds them.
      }
      if (!closed) checkLoop();
    }, checkEveryMs);
  };

  const tracker: ChoreographyTracker = {
    owner,
    start() {
      if (closed) return Promise.reject(closedError());
      starting ??= (async () => {
        const topics = new Set([...flows.values()].flatMap((flow) => flow.events));
        for (const topic of topics)
          subscriptions.push(await transport.subscribe(topic, group, (delivery) => onEvent(topic, delivery)));
        checkLoop();
      })().catch((error: unknown) => {
        starting = undefined;
        throw error;
      });
      return starting;
    },
    checkStalled,
    get: (flowId, callOptions) => log.get(flowId, callOptions),
    history: (flowId, callOptions) => log.history(flowId, callOptions),
    list: (query, callOptions) => log.list(query, callOptions),
    async close() {
      if (closed) return;
      closed = true;
      clock.clearTimeout(checkTimer);
      await Promise.allSettled(subscriptions.map((subscription) => subscription.close()));
    },
    async [Symbol.asyncDispose]() {
      await tracker.close();
    },
  };
  return tracker;
}
