import type { ExecutionContext, Policy } from './policy.js';

/**
 * The context a policy passes inward (internal). Unlike a plain {@link ExecutionContext}, it can
 * tell whether it is aborted without creating an AbortSignal: signals are made only when the
 * user's function reads `signal`, which is most of the cost peers pay on every call.
 */
export interface Scope extends ExecutionContext {
  /** The signal to follow, or `undefined` when this scope can never abort. Reading it may create it. */
  readonly abortSignal: AbortSignal | undefined;
  /** Whether this scope or one it follows has aborted; never creates a signal. */
  readonly aborted: boolean;
  /** The abort reason, when {@link Scope.aborted}. */
  readonly reason: unknown;
  /** Whether this scope could ever abort (a caller signal or an enclosing timeout/hedge); never creates a signal. */
  readonly canAbort: boolean;
}

/** The internal entry point of the policies of this package: run `fn` in `scope`. */
export const runInScope: unique symbol = Symbol('bulwark.runInScope');

/** A policy of this package: runs functions in a {@link Scope} without materialising signals. */
export interface ScopedPolicy {
  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T>;
}

/** The scope of a call as it enters the outermost policy: the caller's signal, if any. */
export class RootScope implements Scope {
  #never: AbortSignal | undefined;
  constructor(
    readonly callerSignal: AbortSignal | undefined,
    readonly attempt = 1,
  ) {}
  get signal(): AbortSignal {
    // A fresh never-aborting signal per call rather than a shared one: listeners users add to it
    // (fetch, streams) must not pile up on a global object.
    if (this.callerSignal) return this.callerSignal;
    this.#never ??= new AbortController().signal;
    return this.#never;
  }
  get abortSignal(): AbortSignal | undefined {
    return this.callerSignal;
  }
  get aborted(): boolean {
    return this.callerSignal?.aborted === true;
  }
  get reason(): unknown {
    return this.callerSignal?.reason;
  }
  get canAbort(): boolean {
    return this.callerSignal !== undefined;
  }
}

/** Another attempt number over the same cancellation (retry). */
export class AttemptScope implements Scope {
  constructor(
    readonly parent: Scope,
    readonly attempt: number,
  ) {}
  get signal(): AbortSignal {
    return this.parent.signal;
  }
  get abortSignal(): AbortSignal | undefined {
    return this.parent.abortSignal;
  }
  get aborted(): boolean {
    return this.parent.aborted;
  }
  get reason(): unknown {
    return this.parent.reason;
  }
  get canAbort(): boolean {
    return this.parent.canAbort;
  }
}

/**
 * A scope its owner can abort (timeout, hedge loser), following its parent. Its AbortController is
 * created only if someone reads `signal`; it listens to the parent's signal only then, and stops
 * listening at {@link AbortableScope.release} so nothing outlives the call.
 */
export class AbortableScope implements Scope {
  controller: AbortController | undefined = undefined;
  isAborted = false;
  abortReason: unknown = undefined;
  released = false;
  linked: AbortSignal | undefined = undefined;

  constructor(
    readonly parent: Scope,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller) return controller.signal;
    controller = new AbortController();
    this.controller = controller;
    if (this.isAborted) {
      controller.abort(this.abortReason);
    } else if (this.parent.aborted) {
      this.abort(this.parent.reason);
    } else if (!this.released) {
      const parentSignal = this.parent.abortSignal;
      if (parentSignal) {
        parentSignal.addEventListener('abort', this);
        this.linked = parentSignal;
      }
    }
    return controller.signal;
  }
  get abortSignal(): AbortSignal | undefined {
    return this.signal;
  }
  get aborted(): boolean {
    return this.isAborted || this.parent.aborted;
  }
  get reason(): unknown {
    return this.isAborted ? this.abortReason : this.parent.reason;
  }
  get canAbort(): boolean {
    return true;
  }

  /** The parent's signal aborted (DOM EventListener object: no closure per scope). */
  handleEvent(): void {
    this.abort(this.linked?.reason);
  }

  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.unlink();
    this.controller?.abort(reason);
  }

  /** The call settled: stop following the parent. */
  release(): void {
    this.released = true;
    this.unlink();
  }

  private unlink(): void {
    if (this.linked) {
      this.linked.removeEventListener('abort', this);
      this.linked = undefined;
    }
  }
}

/** Calls `fn(scope)` and always returns a promise (a synchronous throw becomes a rejection). */
export function invoke<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
  try {
    const result = fn(scope);
    return result instanceof Promise ? result : Promise.resolve(result);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Runs `fn` through `policy` in `scope`, whether the policy is ours or a third party's. */
export function runPolicy<T>(policy: Policy, fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
  if (runInScope in policy) return (policy as ScopedPolicy)[runInScope](fn, scope);
  return policy.execute((context) => fn(new RootScope(context.signal, context.attempt)), {
    signal: scope.abortSignal,
  });
}

/** `policy.execute(fn, options)` for policies of this package. */
export function executeInRootScope<T>(
  policy: ScopedPolicy,
  fn: (scope: Scope) => T | PromiseLike<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return policy[runInScope](fn, new RootScope(signal));
}
