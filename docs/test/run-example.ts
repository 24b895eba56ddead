// Runs a docs example (docs/examples/<name>.ts, top-level code) and checks that what it prints is
// what the comment block at the end of the file says it prints.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { vi } from 'vitest';

export const examplesDir = join(import.meta.dirname, '..', 'examples');

/** The trailing `// …` lines of an example: the output it documents. */
export function documentedOutput(name: string): string {
  const lines = readFileSync(join(examplesDir, `${name}.ts`), 'utf8')
    .trimEnd()
    .split('\n');
  const block: string[] = [];
  for (let index = lines.length - 1; index >= 0 && (lines[index] as string).startsWith('//'); index--) {
    block.unshift((lines[index] as string).replace(/^\/\/ ?/, ''));
  }
  return block.join('\n');
}

/** Imports the example (running it) and returns what it printed with console.log. */
export async function runExample(name: string): Promise<string> {
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(format(...args));
  });
  try {
    await import(join(examplesDir, `${name}.ts`));
  } finally {
    spy.mockRestore();
  }
  return printed.join('\n');
}
