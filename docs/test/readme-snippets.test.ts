// Every TypeScript snippet of the package READMEs pastes and runs, or says plainly what it
// assumes: each snippet is compiled as a module of its own, and a name it uses without importing
// or declaring it must be listed on its first line, `// Assumes: \`limiter\` (…), \`login\` (…)`.
// (The quick starts are docs example files, run by readme-quick-start.test.ts.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const docs = join(import.meta.dirname, '..');
const readmes = ['resilience', 'messaging', 'saga'].map((name) => join(docs, '..', 'packages', name, 'README.md'));

interface Snippet {
  readonly id: string;
  readonly code: string;
  readonly assumed: readonly string[];
}

const snippets: Snippet[] = readmes.flatMap((path) => {
  const markdown = readFileSync(path, 'utf8');
  return Array.from(markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm), (match) => {
    const code = match[1] as string;
    const line = markdown.slice(0, match.index).split('\n').length;
    const assumption = /^\/\/ Assumes: (.*)$/m.exec(code.split('\n')[0] ?? '');
    // The names are the backticked words outside parentheses (those say what each name is).
    const listed = (assumption?.[1] ?? '').replace(/\([^)]*\)/g, '');
    const assumed = Array.from(listed.matchAll(/`([\w$]+)`/g), (name) => name[1] as string);
    return { id: `${path.split('/').at(-2)}/README.md:${line}`, code, assumed };
  });
});

/** "Cannot find name" and its kin: a name the snippet uses but never defines. */
const undefinedNameCodes = new Set([2304, 2552, 2503, 2582, 2593, 18004]);

function undefinedNames(): Map<string, string[]> {
  const config = ts.readConfigFile(join(docs, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, docs);
  const files = new Map(
    snippets.map((snippet, index) => [
      join(docs, 'test', `readme-snippet-${index}.ts`),
      `${snippet.code}\nexport {};\n${snippet.assumed.map((name) => `declare const ${name}: any;`).join('\n')}\n`,
    ]),
  );
  const host = ts.createCompilerHost({ ...options, noEmit: true });
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (fileName, version, ...rest) => {
    const text = files.get(fileName);
    return text === undefined
      ? getSourceFile(fileName, version, ...rest)
      : ts.createSourceFile(fileName, text, version);
  };
  const fileExists = host.fileExists;
  host.fileExists = (fileName) => files.has(fileName) || fileExists(fileName);
  const program = ts.createProgram([...files.keys()], { ...options, noEmit: true }, host);
  const found = new Map<string, string[]>();
  [...files.keys()].forEach((fileName, index) => {
    const source = program.getSourceFile(fileName);
    const names = program
      .getSemanticDiagnostics(source)
      .filter((diagnostic) => undefinedNameCodes.has(diagnostic.code))
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '));
    if (names.length > 0) found.set((snippets[index] as Snippet).id, names);
  });
  return found;
}

describe('README snippets', () => {
  it('find snippets to check', () => {
    expect(snippets.length).toBeGreaterThan(30);
  });

  it('use no name they neither define nor list under "// Assumes:"', () => {
    expect(Object.fromEntries(undefinedNames())).toEqual({});
  }, 120_000);
});
