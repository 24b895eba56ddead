// The crash watch of a fault run: an `error` event nobody listens to, or a rejection nobody
// handles, would end a real process; here it is recorded so the run can fail on it.

/** What {@link watchProcessErrors} saw. */
export interface ProcessErrorWatch {
  /** Unhandled rejections and uncaught exceptions, in the order they happened. */
  readonly errors: readonly unknown[];
  /** Stops listening (the errors seen stay). */
  stop(): void;
}

/** Records every `unhandledRejection` and `uncaughtException` of this process until `stop()`. */
export function watchProcessErrors(): ProcessErrorWatch {
  const errors: unknown[] = [];
  const record = (error: unknown) => errors.push(error);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  return {
    errors,
    stop() {
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    },
  };
}
