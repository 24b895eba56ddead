import { SagaLeaseLostError } from '../errors/saga-error.js';
import type { OrchestratorCore } from './orchestrator-core.js';

/**
 * Renews the leases of the runs driven here every `heartbeatMs`; a run whose lease was taken
 * is aborted, since another orchestrator now drives it. Returns the function that stops it.
 */
export function leaseHeartbeat(core: OrchestratorCore): () => void {
  const { clock, log, owner, driving } = core;
  let timer: unknown;
  const beat = () => {
    timer = clock.setTimeout(async () => {
      const ids = [...driving.keys()];
      if (ids.length > 0) {
        try {
          const now = clock.now();
          const held = new Set(await log.renew(owner, ids, now + core.leaseMs));
          for (const id of ids) if (!held.has(id)) driving.get(id)?.controller.abort(new SagaLeaseLostError(id, owner));
        } catch (error) {
          core.listeners.emit('saga-error', () => ({ sagaId: '', saga: '', at: clock.now(), error }));
        }
      }
      if (!core.closed) beat();
    }, core.heartbeatMs);
  };
  beat();
  return () => clock.clearTimeout(timer);
}
