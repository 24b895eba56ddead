// The first SIGINT or SIGTERM starts a process's shutdown; the ones that follow do not cut it short.
/**
 * Runs `close` on the first SIGINT or SIGTERM and ignores the ones that follow while it runs:
 * pnpm passes a terminal's Ctrl-C on to the script it runs, so a process can get one SIGINT twice,
 * and dying on the second would leave what it started (an embedded PostgreSQL) running.
 */
export function onStopSignal(close: (signal: NodeJS.Signals) => Promise<void>): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    void close(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
