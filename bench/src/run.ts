// `pnpm bench [name-prefix…]`: runs the selected benchmarks (all by default) and writes
// bench/results/<name>.json plus bench/results/latest.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BenchmarkDefinition, type BenchmarkResult, formatResult, runBenchmark } from './harness.js';
import { benchmarks } from './suites/index.js';

const filters = process.argv.slice(2).filter((argument) => !argument.startsWith('-'));
const selected: BenchmarkDefinition[] = (await benchmarks()).filter(
  (definition) => filters.length === 0 || filters.some((filter) => definition.name.startsWith(filter)),
);
if (selected.length === 0) {
  console.error(`No benchmark matches ${filters.join(', ')}`);
  process.exit(1);
}
const resultsDir = join(import.meta.dirname, '..', 'results');
await mkdir(resultsDir, { recursive: true });
const report: string[] = [`# Bulwark benchmarks (${new Date().toISOString()}, Node ${process.version})`];
for (const definition of selected) {
  const result: BenchmarkResult = await runBenchmark(definition);
  const table = formatResult(result, definition.baseline);
  console.log(table);
  report.push(table);
  await writeFile(join(resultsDir, `${definition.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
}
await writeFile(join(resultsDir, 'latest.md'), `${report.join('\n')}\n`);
process.exit(0);
