/** A process warning as Node emits it: an Error whose `name` is the warning's type. */
export type ProcessWarning = Error & { readonly code?: string };

/**
 * Collects the process warnings (`process.emitWarning`) of one type until `stop()` is called,
 * for tests of what a library reports when nobody gave it an error callback.
 */
export function collectProcessWarnings(type: string): { warnings: ProcessWarning[]; stop: () => void } {
  const warnings: ProcessWarning[] = [];
  const listener = (warning: ProcessWarning) => {
    if (warning.name === type) warnings.push(warning);
  };
  process.on('warning', listener);
  return { warnings, stop: () => process.off('warning', listener) };
}
