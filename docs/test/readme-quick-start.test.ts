// Each package README's quick start is a docs example file, kept identical and run here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplesDir, runExample } from './run-example.js';

const cases = [
  { name: 'resilience', printed: '199' },
  { name: 'messaging', printed: 'billed order 42' },
  { name: 'saga', printed: 'stock released\ncompensated' },
];

describe('README quick starts', () => {
  it.each(cases)('%# the README of $name shows its docs example, which runs', async ({ name, printed }) => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'packages', name, 'README.md'), 'utf8');
    const example = readFileSync(join(examplesDir, `readme-${name}.ts`), 'utf8');
    expect(readme).toContain(`## Quick start\n\n\`\`\`ts\n${example}\`\`\``);
    expect(await runExample(`readme-${name}`)).toBe(printed);
  });
});
