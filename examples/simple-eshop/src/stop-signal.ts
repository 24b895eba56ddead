// The first SIGINT or SIGTERM starts a process's shutdown; the ones that follow do not cut it short.

/** What {@link onStopSignal} does when `close` does not finish. */
export interface StopSignalOptions {
  /**
   * After this long the process exits with code 1 anyway, saying so on stderr: a shutdown that
   * hangs is a fault to see, not a process to leave running until a supervisor kills it.
   */
  readonly deadlineMs?: number;
}

/**
 * Runs `close` on the first SIGINT or SIGTERM and ignores the ones that follow while it runs:
 * pnpm passes a terminal's Ctrl-C on to the script it runs, so a process can get one SIGINT twice,
 * and dying on the second would leave what it started (an embedded PostgreSQL) running.
 */
export function onStopSignal(close: (signal: NodeJS.Signals) => Promise<void>, options: StopSignalOptions = {}): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    if (options.deadlineMs !== undefined) {
      const deadlineMs = options.deadlineMs;
      setTimeout(() => {
        console.error(`${signal}: shutdown did not finish within ${deadlineMs} ms; exiting with code 1`);
        process.exit(1);
      }, deadlineMs).unref();
    }
    void close(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
