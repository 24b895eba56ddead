// Writes the code of the docs examples into the Markdown files that show them, so a guide (or a
// README) reads with its code on the repository page while the example files stay the one source,
// type-checked and run by docs/test. A block between
//
//   <!-- code: ../examples/retry.ts -->
//   ```ts
//   …the file, written by this script…
//   ```
//   <!-- /code -->
//
// is rewritten from the file (the path is relative to the Markdown file); a line
// `{@includeCode ../examples/retry.ts}` becomes such a block. `pnpm --filter docs run guides`
// rewrites every guide; docs/test/guide-code.test.ts fails while a guide is out of date.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';

/** The folder of the guides. */
export const guidesDir = join(import.meta.dirname, 'guides');

const blockPattern = /<!-- code: (\S+) -->\n[\s\S]*?<!-- \/code -->|^\{@includeCode (\S+)\}$/gm;
const languages: Record<string, string> = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js', '.json': 'json' };

/** A fenced block of `code`, its fence longer than any backtick run inside. */
function fenced(code: string, language: string): string {
  const longestRun = Math.max(2, ...Array.from(code.matchAll(/`+/g), (match) => match[0].length));
  const fence = '`'.repeat(longestRun + 1);
  return `${fence}${language}\n${code.endsWith('\n') ? code : `${code}\n`}${fence}`;
}

/** `markdown` (the file at `markdownPath`) with every code block written from its example file. */
export function withExampleCode(markdown: string, markdownPath: string): string {
  return markdown.replace(blockPattern, (_block, markerPath: string | undefined, includePath: string | undefined) => {
    const path = (markerPath ?? includePath) as string;
    const code = readFileSync(resolve(dirname(markdownPath), path), 'utf8');
    return `<!-- code: ${path} -->\n${fenced(code, languages[extname(path)] ?? '')}\n<!-- /code -->`;
  });
}

/** Every guide, by path. */
export const guidePaths = (): string[] =>
  readdirSync(guidesDir)
    .filter((file) => file.endsWith('.md'))
    .map((file) => join(guidesDir, file));

if (process.argv[1] === import.meta.filename) {
  for (const path of guidePaths()) {
    const before = readFileSync(path, 'utf8');
    const after = withExampleCode(before, path);
    if (after !== before) {
      writeFileSync(path, after);
      console.log(`wrote the code of ${path}`);
    }
  }
}
