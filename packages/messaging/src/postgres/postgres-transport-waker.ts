import type { Clock } from '@bulwark/resilience';

/** Resolves `wait()` when `wake()` is called or the time passes, whichever is first. */
export class Waker {
  private resolveWait: (() => void) | undefined;
  private woken = false;
  constructor(private readonly clock: Clock) {}
  wake(): void {
    this.woken = true;
    this.resolveWait?.();
  }
  /** Resolves true when woken, false when the time ran out. */
  async wait(ms: number): Promise<boolean> {
    if (this.woken) {
      this.woken = false;
      return true;
    }
    const woken = await new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), ms);
      this.resolveWait = () => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
    });
    this.resolveWait = undefined;
    this.woken = false;
    return woken;
  }
}
