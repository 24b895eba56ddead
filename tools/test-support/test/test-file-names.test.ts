// The rule of README "Working on Bulwark": a test that needs a server is named
// *.conformance/.integration/.fault.test.ts (the vitest `servers` project), so the `unit` project
// never starts or waits for one. This reads every test file and checks the rule both ways it can.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const serverSuffix = /\.(conformance|integration|fault)\.test\.ts$/;
/** What only a test with servers (or server processes) calls. */
const needsServer =
  /\b(describeWithServers|describeWithRedisServer|describeWithRedisCluster|startPrivatePostgres|startRedisServer|requireServers|serverUrl)\(/;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('test file names', () => {
  const files = ['packages', 'tools', 'examples', 'docs'].flatMap((top) => testFiles(join(root, top)));

  it('finds the test files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('names every test that needs a server with a servers-project suffix', () => {
    const unnamed = files
      .filter((file) => !serverSuffix.test(file) && needsServer.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(unnamed).toEqual([]);
  });

  it('keeps in-process conformance runs (memory, filesystem) out of the servers project', () => {
    const inProcess = files
      .filter((file) => /\.conformance\.test\.ts$/.test(file) && /\/(memory|fs)-[^/]*$/.test(file))
      .map((file) => relative(root, file));
    expect(inProcess).toEqual([]);
  });
});
