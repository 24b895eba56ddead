import { isStatementRejected, type PostgresStatementRunner } from './postgres-store-error.js';

export interface PublishRow {
  topic: string;
  id: string;
  key: string | null;
  body: Buffer;
  delayMs: number;
}

/**
 * Joins the publish calls made in one tick into one statement: one commit and one WAL fsync for
 * all of them, which is what lets many concurrent publishers go fast on PostgreSQL. A call never
 * spans two statements, so each stays atomic.
 */
export class PublishBatcher {
  private pending: {
    rows: PublishRow[];
    signal: AbortSignal | undefined;
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];
  private scheduled = false;
  /** Publish statements sent and not answered yet. */
  private running = 0;
  constructor(
    private readonly query: PostgresStatementRunner,
    private readonly sql: { readonly publish: string; readonly publishOne: string; readonly publishOneKeyed: string },
    /** The NOTIFY channel a lone statement notifies on itself; undefined when nobody listens. */
    private readonly channel: string | undefined,
    /** Called after a commit; `notified` when the statement sent the wake-up NOTIFY itself. */
    private readonly onPublished: (topics: string[], notified: boolean) => void,
    /** Rows per statement before a new one is started (a larger single call still goes alone). */
    private readonly maxRows = 1_000,
  ) {}
  add(rows: PublishRow[], signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ rows, signal, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }
  private flush(): void {
    this.scheduled = false;
    const calls = this.pending;
    this.pending = [];
    const batches: (typeof calls)[] = [];
    let batch: typeof calls = [];
    let size = 0;
    for (const call of calls) {
      if (call.signal?.aborted) {
        call.reject(call.signal.reason);
        continue;
      }
      if (size > 0 && size + call.rows.length > this.maxRows) {
        batches.push(batch);
        batch = [];
        size = 0;
      }
      batch.push(call);
      size += call.rows.length;
    }
    if (batch.length > 0) batches.push(batch);
    // One after another, so calls made in one tick commit in call order.
    void (async () => {
      for (const next of batches) await this.run(next);
    })();
  }
  /**
   * The statement and parameters for `rows`. A lone message has statements with scalar parameters,
   * one with an ordering key and one without, so that the server keeps a generic plan for each.
   */
  private statementFor(rows: PublishRow[], channel: string | null): [string, unknown[]] {
    const [only] = rows;
    if (rows.length === 1 && only) {
      return [
        only.key === null ? this.sql.publishOne : this.sql.publishOneKeyed,
        [only.topic, only.id, only.key, only.body, only.delayMs, channel],
      ];
    }
    return [
      this.sql.publish,
      [
        rows.map((row) => row.topic),
        rows.map((row) => row.id),
        rows.map((row) => row.key),
        rows.map((row) => row.body),
        rows.map((row) => row.delayMs),
        channel,
      ],
    ];
  }
  private async run(calls: { rows: PublishRow[]; resolve: () => void; reject: (error: unknown) => void }[]) {
    const rows = calls.flatMap((call) => call.rows);
    // Alone, the statement notifies at its own commit: the subscriber wakes a round trip sooner.
    // Beside others it leaves that to a separate NOTIFY, so concurrent commits still share fsyncs.
    const notify = this.running === 0 && this.channel !== undefined;
    this.running += 1;
    try {
      const [text, values] = this.statementFor(rows, notify ? (this.channel ?? null) : null);
      const result = await this.query<{ topic: string }>('publish', text, values);
      for (const call of calls) call.resolve();
      if (result.rows.length > 0)
        this.onPublished(
          result.rows.map((row) => row.topic),
          notify,
        );
    } catch (error) {
      // One bad call must not fail the others it happened to share a statement with: run them
      // one by one, in call order. A lost connection or a timeout would fail each of them alike
      // (and make the last wait n bounds): those fail together.
      if (calls.length > 1 && isStatementRejected(error)) for (const call of calls) await this.run([call]);
      else for (const call of calls) call.reject(error);
    } finally {
      this.running -= 1;
    }
  }
}
