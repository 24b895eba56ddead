// What a process closes on the way out, the last opened first. A step that runs long is named in
// the log while it runs, so a shutdown that hangs says where.

/** How a slow or failing step is reported. */
export interface ShutdownReport {
  /** Called every `slowAfterMs` while a step runs, with the time it has run so far. */
  slow(name: string, elapsedMs: number): void;
  failed(name: string, error: unknown): void;
}

/** The steps of one process's shutdown. */
export interface ShutdownSteps {
  /** Adds a step: steps close in the reverse order of adding. */
  add(name: string, close: () => Promise<unknown>): void;
  /** Adds a step at `index` of the adding order (0 closes last). */
  insert(index: number, name: string, close: () => Promise<unknown>): void;
  /** Closes every step, one at a time; a step that fails is reported and the next one runs. */
  closeAll(report?: ShutdownReport, slowAfterMs?: number): Promise<void>;
}

export function shutdownSteps(): ShutdownSteps {
  const steps: { name: string; close: () => Promise<unknown> }[] = [];
  return {
    add(name, close) {
      steps.push({ name, close });
    },
    insert(index, name, close) {
      steps.splice(index, 0, { name, close });
    },
    async closeAll(report, slowAfterMs = 5_000) {
      for (const { name, close } of steps.splice(0).reverse()) {
        const started = Date.now();
        const watch = report ? setInterval(() => report.slow(name, Date.now() - started), slowAfterMs) : undefined;
        watch?.unref();
        try {
          await close();
        } catch (error) {
          report?.failed(name, error);
        } finally {
          clearInterval(watch);
        }
      }
    },
  };
}
