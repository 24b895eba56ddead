import type {
  SagaOrchestratorEventName,
  SagaOrchestratorEvents,
  SagaOrchestratorListener,
} from './orchestrator-events.js';

/** The orchestrator's listeners, by event name. */
export interface OrchestratorListeners {
  /** Calls the listeners of `name`; `make` builds the event only when someone listens. */
  emit<Name extends SagaOrchestratorEventName>(name: Name, make: () => SagaOrchestratorEvents[Name]): void;
  on<Name extends SagaOrchestratorEventName>(event: Name, listener: SagaOrchestratorListener<Name>): () => void;
}

export function orchestratorListeners(): OrchestratorListeners {
  const listeners = new Map<SagaOrchestratorEventName, Set<(event: never) => void>>();
  return {
    emit(name, make) {
      const set = listeners.get(name);
      if (!set || set.size === 0) return;
      const event = make();
      for (const listener of set) {
        try {
          (listener as SagaOrchestratorListener<typeof name>)(event);
        } catch {
          // A listener's failure must not stop a run half-way through a transition.
        }
      }
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      const stored = listener as (event: never) => void;
      set.add(stored);
      return () => {
        set.delete(stored);
      };
    },
  };
}
