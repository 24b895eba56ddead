import { InvalidValueError } from '../errors/resilience-error.js';

/** The error of an `on(name, …)` given a name the component does not emit (only reachable from untyped code). */
export function unknownEventError(component: string, name: PropertyKey): InvalidValueError {
  return new InvalidValueError('event name', `${JSON.stringify(String(name))} is not an event of ${component}`);
}
