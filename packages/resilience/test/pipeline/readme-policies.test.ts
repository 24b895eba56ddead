import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Runs every TypeScript example of the README's "## Policies" section, so the examples stay runnable.

const readme = await readFile(join(import.meta.dirname, '../../README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Policies'), readme.indexOf('\n## ', readme.indexOf('## Policies') + 1));
const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
const directory = await mkdtemp(join(import.meta.dirname, '.readme-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

/** What each example must print (a line containing each string), in README order. */
const expectedOutput: string[][] = [
  ['after 2 attempts'],
  ['attempt 2 in 20 ms', 'ok', 'HTTP 503 after 3 attempts'],
  ['true', 'TimeoutError'],
  ['inventory: closed -> open', 'retry in ', 'inventory: isolated -> closed'],
  ['open'],
  ["[ 'pdf', 'pdf', 'pdf', 'BulkheadRejectedError' ]"],
  ['[]'],
  ['hedged attempt 2 (delay)', 'price from replica 2'],
];

describe('README ## Policies examples', () => {
  it('has one example per policy', () => {
    expect(blocks).toHaveLength(expectedOutput.length);
  });

  blocks.forEach((code, index) => {
    it(`example ${index + 1} runs and prints what it says`, async () => {
      const file = join(directory, `example-${index + 1}.ts`);
      await writeFile(file, `${code}\nexport {};\n`);
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((...values: unknown[]) => {
        printed.push(values.map((value) => (typeof value === 'string' ? value : inspect(value))).join(' '));
      });
      try {
        await import(file);
      } finally {
        log.mockRestore();
      }
      for (const expected of expectedOutput[index] ?? []) {
        expect(
          printed.some((line) => line.includes(expected)),
          `${expected} in ${JSON.stringify(printed)}`,
        ).toBe(true);
      }
    });
  });
});
