// Same-process A/B of the policy pipeline's happy path: the resilience source of a base commit
// (extracted to a directory given as the first argument) against the current one, interleaved over
// rounds and timed by CPU time (process.cpuUsage), which other processes on a busy machine do not
// inflate the way they inflate wall time. Prints the median CPU ns/op of each.
//   git archive <base> packages/resilience/src | tar -x -C /tmp/before
//   node --conditions=@bulwark/source --import tsx src/otel-overhead.ts /tmp/before [--import ./src/otel-noop-sdk.ts before it]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as current from '@bulwark/resilience';

type Resilience = typeof current;
const baseDir = process.argv[2];
if (!baseDir) throw new Error('usage: otel-overhead.ts <directory holding packages/resilience/src of the base>');
const before = (await import(pathToFileURL(join(baseDir, 'packages/resilience/src/index.ts')).href)) as Resilience;

const noop = async (): Promise<void> => {};
const build = (library: Resilience) =>
  library.pipeline(
    library.circuitBreaker({ strategy: library.consecutive(5), halfOpenAfter: 10_000 }),
    library.retry({ maxAttempts: 3 }),
    library.timeout({ ms: 2_000 }),
  );
const subjects = { before: build(before), after: build(current) };
const operations = 50_000;
const rounds = 15;
const samples: Record<string, number[]> = { before: [], after: [] };

async function round(policy: ReturnType<typeof build>): Promise<number> {
  const start = process.cpuUsage();
  for (let index = 0; index < operations; index++) await policy.execute(noop);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / operations;
}

for (const policy of Object.values(subjects)) await round(policy); // warm-up
for (let index = 0; index < rounds; index++)
  for (const [name, policy] of index % 2 ? Object.entries(subjects).reverse() : Object.entries(subjects))
    samples[name]?.push(await round(policy));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
for (const [name, values] of Object.entries(samples))
  console.log(
    `${name}: ${median(values).toFixed(1)} CPU ns/op (rounds: ${values.map((value) => value.toFixed(0)).join(' / ')})`,
  );
console.log(`after / before: ${(median(samples.after ?? []) / median(samples.before ?? [])).toFixed(3)}`);
process.exit(0);
