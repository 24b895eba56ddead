// The benchmark harness: every subject of a benchmark runs in one process, interleaved over
// several rounds after a warm-up, so machine noise hits all of them alike. Results are reported
// as ns/op, ops/s, the median over rounds, and the ratio to the peer named as `baseline`.
// With `clientCpu`, each subject also gets a row of the CPU this process spent per op.

/** One thing measured: `run` performs `batch` operations when called. */
export interface Subject {
  /** Performs one operation (`kind: 'op'`) or is one caller's loop body (`kind: 'concurrent'`). */
  run: () => unknown | Promise<unknown>;
}

export interface BenchmarkDefinition {
  /** Unique name, e.g. `resilience.circuit-breaker`; `pnpm bench <prefix>` selects by prefix. */
  name: string;
  /** What is measured, printed above the table. */
  description: string;
  /**
   * `op`: one caller, sequential awaits (latency per op).
   * `concurrent`: `concurrency` callers each looping `run` (throughput).
   */
  mode: { kind: 'op' } | { kind: 'concurrent'; concurrency: number };
  /** Operations per round per subject. */
  operations: number;
  /** Rounds after warm-up; the median is reported. @defaultValue 5 */
  rounds?: number;
  /** Subjects by name, e.g. `{ bulwark: …, cockatiel: … }`. */
  subjects: Record<string, () => Promise<Subject> | Subject>;
  /** The subject the others are compared to (ratio = its ns/op ÷ the subject's). */
  baseline?: string;
  /**
   * Per-subject baselines, for rows that pair off (each transport beside its own floor): subject →
   * the subject its ratio is against, in place of `baseline`. Name a floor as its own baseline for
   * its 1.00x.
   */
  baselineOf?: Readonly<Record<string, string>>;
  /** Subtracted from every subject's ns/op to report an added cost (e.g. a bare `await fn()`). */
  overheadOf?: string;
  /**
   * Also report the client CPU each subject spends: `process.cpuUsage()` (user + system) over each
   * timed round, so everything the subject runs in this process (callers, client, consumer). Adds a
   * `<subject> client CPU` row after each subject's row, CPU ns per op in the ns/op column, compared
   * to its baseline's client CPU row. On a loaded machine it moves less than wall time. Not with
   * `measure`.
   */
  clientCpu?: boolean;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  /**
   * A custom runner, for what timing `run` cannot express (latency percentiles, draining a
   * prepared backlog): when present it replaces the timed loop over `subjects` and returns one
   * row per subject in the same shape; baseline and overhead ratios are still computed.
   */
  measure?: () => Promise<SubjectResult[]>;
}

export interface SubjectResult {
  /** The row's name: the subject's, or `<subject> client CPU`. */
  subject: string;
  /** On a client CPU row: the subject whose CPU it holds. */
  clientCpuOf?: string;
  nsPerOp: number;
  opsPerSecond: number;
  roundsNsPerOp: number[];
  addedNsPerOp?: number;
  /** >1 means faster than the baseline. */
  ratioToBaseline?: number;
}

export interface BenchmarkResult {
  name: string;
  description: string;
  mode: BenchmarkDefinition['mode'];
  operations: number;
  results: SubjectResult[];
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** The value at `fraction` (0.5 for p50, 0.99 for p99) of values sorted ascending (nearest rank). */
export const percentile = (sorted: number[], fraction: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;

/** A result row for a custom `measure`: the median of one value (e.g. a p99 in ns) over rounds. */
export const medianRow = (subject: string, roundsNsPerOp: number[]): SubjectResult => {
  const nsPerOp = median(roundsNsPerOp);
  return { subject, nsPerOp, opsPerSecond: 1e9 / nsPerOp, roundsNsPerOp };
};

/** The suffix of a subject's client CPU row. */
const clientCpuSuffix = ' client CPU';

/** One timed round: wall ns and this process's CPU ns, each per op. */
interface RoundSample {
  wallNsPerOp: number;
  cpuNsPerOp: number;
}

async function runRound(subject: Subject, definition: BenchmarkDefinition, operations: number): Promise<RoundSample> {
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  if (definition.mode.kind === 'op') {
    for (let index = 0; index < operations; index++) await subject.run();
  } else {
    let remaining = operations;
    const caller = async () => {
      while (remaining > 0) {
        remaining -= 1;
        await subject.run();
      }
    };
    await Promise.all(Array.from({ length: definition.mode.concurrency }, caller));
  }
  const wallNsPerOp = Number(process.hrtime.bigint() - start) / operations;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallNsPerOp, cpuNsPerOp: ((cpu.user + cpu.system) * 1_000) / operations };
}

async function measureSubjects(definition: BenchmarkDefinition): Promise<SubjectResult[]> {
  const names = Object.keys(definition.subjects);
  const subjects = new Map<string, Subject>();
  for (const name of names) subjects.set(name, await (definition.subjects[name] as () => Promise<Subject> | Subject)());
  const rounds = definition.rounds ?? 5;
  const warmUp = Math.max(1, Math.floor(definition.operations / 5));
  for (const subject of subjects.values()) await runRound(subject, definition, warmUp);
  const samples = new Map<string, RoundSample[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no subject always runs first (or right after GC).
    for (let offset = 0; offset < names.length; offset++) {
      const name = names[(round + offset) % names.length] as string;
      samples.get(name)?.push(await runRound(subjects.get(name) as Subject, definition, definition.operations));
    }
  }
  return names.flatMap((subject) => {
    const taken = samples.get(subject) ?? [];
    const wall = medianRow(
      subject,
      taken.map((sample) => sample.wallNsPerOp),
    );
    if (!definition.clientCpu) return [wall];
    const cpu = medianRow(
      `${subject}${clientCpuSuffix}`,
      taken.map((sample) => sample.cpuNsPerOp),
    );
    return [wall, { ...cpu, clientCpuOf: subject }];
  });
}

/** The row measuring `subject` the way `like` measures its own (wall time or client CPU). */
const rowLike = (results: SubjectResult[], like: SubjectResult, subject: string | undefined) =>
  subject === undefined
    ? undefined
    : results.find(
        (row) =>
          (row.clientCpuOf ?? row.subject) === subject &&
          (row.clientCpuOf === undefined) === (like.clientCpuOf === undefined),
      );

export async function runBenchmark(definition: BenchmarkDefinition): Promise<BenchmarkResult> {
  if (definition.clientCpu && definition.measure) {
    throw new Error(`${definition.name}: clientCpu samples the harness's rounds; a custom measure must report its own`);
  }
  await definition.setup?.();
  try {
    const results = definition.measure ? await definition.measure() : await measureSubjects(definition);
    // Every added cost first: a baseline listed after a subject must have its own when compared.
    for (const result of results) {
      const overhead = rowLike(results, result, definition.overheadOf);
      if (overhead && result !== overhead) result.addedNsPerOp = result.nsPerOp - overhead.nsPerOp;
    }
    for (const result of results) {
      const subject = result.clientCpuOf ?? result.subject;
      const baseline = rowLike(results, result, definition.baselineOf?.[subject] ?? definition.baseline);
      if (baseline) {
        // Compare added cost when an overhead subject exists, else the whole cost.
        const own = result.addedNsPerOp ?? result.nsPerOp;
        const theirs = baseline.addedNsPerOp ?? baseline.nsPerOp;
        result.ratioToBaseline = theirs / own;
      }
    }
    return {
      name: definition.name,
      description: definition.description,
      mode: definition.mode,
      operations: definition.operations,
      results,
    };
  } finally {
    await definition.teardown?.();
  }
}

const format = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function formatResult(result: BenchmarkResult, baseline?: string): string {
  const mode = result.mode.kind === 'op' ? 'sequential' : `concurrency ${result.mode.concurrency}`;
  const lines = [`\n## ${result.name} — ${result.description} (${mode}, ${format(result.operations)} ops/round)`];
  lines.push('| subject | median ns/op | added ns/op | ops/s | ns/op per round | ratio vs ' + (baseline ?? '—') + ' |');
  lines.push('|---|---:|---:|---:|---|---:|');
  for (const row of result.results) {
    lines.push(
      `| ${row.subject} | ${format(row.nsPerOp, 1)} | ${row.addedNsPerOp === undefined ? '' : format(row.addedNsPerOp, 1)} | ${format(row.opsPerSecond)} | ${row.roundsNsPerOp.map((value) => format(value)).join(' / ')} | ${row.ratioToBaseline === undefined ? '' : `${format(row.ratioToBaseline, 2)}x`} |`,
    );
  }
  return lines.join('\n');
}
