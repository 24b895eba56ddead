import { type EventSubscription, NamedEventEmitter } from '@bulwark/resilience';
import type {
  SagaOrchestratorEventName,
  SagaOrchestratorEvents,
  SagaOrchestratorListener,
} from './orchestrator-events.js';

/** The orchestrator's listeners, by event name. */
export interface OrchestratorListeners {
  /** Calls the listeners of `name`; `make` builds the event only when someone listens. */
  emit<Name extends SagaOrchestratorEventName>(name: Name, make: () => SagaOrchestratorEvents[Name]): void;
  on<Name extends SagaOrchestratorEventName>(event: Name, listener: SagaOrchestratorListener<Name>): EventSubscription;
}

/**
 * The orchestrator's events through the emitter every Bulwark package uses, so a throwing
 * listener is treated as everywhere else (the run goes on, the error is rethrown asynchronously).
 * Plain functions rather than the emitter's methods: the orchestrator's parts take `emit` out.
 */
export function orchestratorListeners(): OrchestratorListeners {
  const emitter = new NamedEventEmitter<SagaOrchestratorEvents>();
  return {
    emit(name, make) {
      emitter.emit(name, make);
    },
    on(event, listener) {
      return emitter.on(event, listener);
    },
  };
}
