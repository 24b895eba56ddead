/** What a policy passes to the function it runs. */
export interface ExecutionContext {
  /**
   * Aborts when the caller's signal aborts or an enclosing policy gives up (timeout, hedge
   * loser). Policies create it lazily: reading it is what makes it exist.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt, incremented by each retry. */
  readonly attempt: number;
}

/** Options accepted by {@link Policy.execute}. */
export interface ExecuteOptions {
  /** Cancels the execution; the returned promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The function a policy runs. */
export type Executable<T> = (context: ExecutionContext) => T | PromiseLike<T>;

/**
 * A resilience policy: retry, circuit breaker, timeout, bulkhead, fallback, hedge, rate limit,
 * or a `pipeline(...)` of them, which is itself a policy.
 */
export interface Policy {
  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T>;
}
