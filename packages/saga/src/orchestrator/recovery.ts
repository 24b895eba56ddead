import { SagaOrchestratorClosedError } from '../errors/saga-error.js';
import type { SagaLogCallOptions } from '../log/saga-log.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { ReplyRouter } from './reply-router.js';
import type { RunDrivers } from './run-drivers.js';

/** Takes over runs nobody drives: on demand (`recover`) and every `recoverEveryMs` (the loop). */
export interface Recovery {
  recover(options?: SagaLogCallOptions): Promise<number>;
  /** Stops the loop. */
  stop(): void;
}

export function recovery(core: OrchestratorCore, drivers: RunDrivers, replies: ReplyRouter): Recovery {
  const { clock, log, owner, driving, claiming } = core;
  let timer: unknown;

  const recover = async (callOptions?: SagaLogCallOptions): Promise<number> => {
    if (core.closed) throw new SagaOrchestratorClosedError();
    await replies.subscribe();
    const room = Math.min(core.recoverBatch, core.maxRecoveredRuns - driving.size);
    if (room <= 0) return 0;
    const now = clock.now();
    const records = await log.claimRecoverable(
      owner,
      { now, leaseUntil: now + core.leaseMs, limit: room },
      callOptions,
    );
    let resumed = 0;
    for (const record of records) {
      if (driving.has(record.id) || claiming.has(record.id)) continue;
      drivers.resumeFromLog(record);
      resumed += 1;
    }
    return resumed;
  };

  const loop = () => {
    const every = core.recoverEveryMs;
    if (every === false) return;
    timer = clock.setTimeout(async () => {
      try {
        await recover();
      } catch (error) {
        if (!core.closed) core.listeners.emit('saga-error', () => ({ sagaId: '', saga: '', at: clock.now(), error }));
      }
      if (!core.closed) loop();
    }, every);
  };
  loop();

  return { recover, stop: () => clock.clearTimeout(timer) };
}
