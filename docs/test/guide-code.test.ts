// The guides read with their code on the repository page: every example block in a guide is the
// current text of its example file (written by `pnpm --filter docs run guides`).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guidePaths, withExampleCode } from '../guide-code.js';

describe('guides', () => {
  it.each(guidePaths().map((path) => [basename(path), path]))(
    '%s shows the current code of its examples',
    (_name, path) => {
      const markdown = readFileSync(path, 'utf8');
      expect(markdown, 'an {@includeCode} line shows nothing on the repository page').not.toMatch(/\{@includeCode/);
      expect(markdown === withExampleCode(markdown, path), 'out of date: run `pnpm --filter docs run guides`').toBe(
        true,
      );
    },
  );

  it('rewrites a stale block and turns an {@includeCode} line into a block', () => {
    const path = guidePaths()[0] as string;
    const stale = '<!-- code: ../examples/retry.ts -->\n```ts\nold\n```\n<!-- /code -->';
    const written = withExampleCode(`# Guide\n\n${stale}\n\ntext\n{@includeCode ../examples/bulkhead.ts}\n`, path);
    const retry = readFileSync(new URL('../examples/retry.ts', import.meta.url), 'utf8');
    const bulkhead = readFileSync(new URL('../examples/bulkhead.ts', import.meta.url), 'utf8');
    expect(written).toBe(
      `# Guide\n\n<!-- code: ../examples/retry.ts -->\n\`\`\`ts\n${retry}\`\`\`\n<!-- /code -->\n\ntext\n` +
        `<!-- code: ../examples/bulkhead.ts -->\n\`\`\`ts\n${bulkhead}\`\`\`\n<!-- /code -->\n`,
    );
    expect(withExampleCode(written, path)).toBe(written);
  });
});
