import type { PostgresStatementRunner } from './postgres-store-error.js';

/**
 * Collects settlements made in one tick and writes them with one statement: at concurrency 32 a
 * subscription acks dozens of deliveries per round trip instead of one.
 */
export class SettleBatcher {
  private pending: { id: string; count: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  constructor(
    private readonly query: PostgresStatementRunner,
    private readonly operation: string,
    private readonly sql: string,
    private readonly extraParameters: unknown[] = [],
  ) {}
  add(id: string, count: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ id, count, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }
  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.query(this.operation, this.sql, [
        batch.map((entry) => entry.id),
        batch.map((entry) => entry.count),
        ...this.extraParameters,
      ]);
      for (const entry of batch) entry.resolve();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
