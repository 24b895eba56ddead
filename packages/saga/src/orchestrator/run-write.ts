import type { NewSagaLogEntry, SagaStatus } from '../log/saga-log.js';
import type { OrchestratorCore } from './orchestrator-core.js';
import type { RunState } from './run-state.js';

/** What a transition changes beside appending entries. */
export interface RunWriteExtra {
  status?: SagaStatus;
  release?: boolean;
  wakeAt?: number | null;
}

/** Appends one transition of a run (its entries, renewing the lease) as one atomic log write. */
export async function writeRun(
  core: OrchestratorCore,
  state: RunState,
  controller: AbortController,
  entries: readonly Omit<NewSagaLogEntry, 'at'>[],
  extra: RunWriteExtra = {},
): Promise<void> {
  const now = core.clock.now();
  try {
    await core.log.append(
      state.id,
      core.owner,
      {
        entries: entries.map((entry) => ({ at: now, ...entry })),
        at: now,
        leaseUntil: now + core.leaseMs,
        ...extra,
      },
      { signal: controller.signal },
    );
  } catch (error) {
    // Whatever failed (lease lost, log down), this process stops driving the run: the log
    // still says where it stands and recovery resumes it from there.
    controller.abort(error);
    throw error;
  }
}
