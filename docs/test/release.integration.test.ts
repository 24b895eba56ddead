// The release as users get it: `pnpm pack` of each package, installed from the tarballs into a
// fresh project with npm (peer dependencies from the npm registry), then one program run as ESM
// and as CommonJS against the installed packages, and one TypeScript program compiled against
// their declarations.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const packages = ['resilience', 'messaging', 'saga'] as const;
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 100_000 });

const expectedOutput = [
  'pipeline: ok after 3 calls',
  'idempotency: 1 1 runs=1',
  'transport: 1,2,3',
  'saga: compensated at two',
  'http: {"at":2} {"at":2} true',
].join('\n');

describe('release tarballs', () => {
  const work = mkdtempSync(join(tmpdir(), 'bulwark-release-'));
  const tarballs = new Map<string, string>();
  const project = join(work, 'project');

  beforeAll(() => {
    for (const name of packages) {
      const dir = join(root, 'packages', name);
      if (!existsSync(join(dir, 'dist', 'index.js')) || !existsSync(join(dir, 'dist', 'index.cjs'))) {
        run('pnpm', ['run', 'build'], dir);
      }
      const before = new Set(readdirSync(work));
      run('pnpm', ['pack', '--pack-destination', work], dir);
      const tarball = readdirSync(work).find((file) => file.endsWith('.tgz') && !before.has(file));
      if (!tarball) throw new Error(`pnpm pack of ${name} wrote no tarball`);
      tarballs.set(name, join(work, tarball));
    }
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'bulwark-release-smoke', private: true }));
    const peers = ['fastify@^5', 'express@^5', 'amqplib@^0.10', '@types/express@^5', '@types/amqplib@^0.10'];
    const compiler = ['typescript@~5.9.3', '@types/node@^20'];
    run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.values(), ...peers, ...compiler],
      project,
    );
    for (const file of ['smoke.mjs', 'smoke.cjs', 'consumer.ts'])
      copyFileSync(join(import.meta.dirname, 'release', file), join(project, file));
  }, 110_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('rewrites workspace ranges to the released versions', () => {
    const version = (name: string) =>
      (JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as { version: string }).version;
    for (const name of packages) {
      const manifest = run('tar', ['-xzOf', tarballs.get(name) as string, 'package/package.json'], work);
      expect(manifest, name).not.toContain('workspace:');
      const parsed = JSON.parse(manifest) as { name: string; dependencies?: Record<string, string> };
      expect(parsed.name).toBe(`@bulwark/${name}`);
      for (const [dependency, range] of Object.entries(parsed.dependencies ?? {})) {
        if (dependency.startsWith('@bulwark/')) expect(range).toBe(`^${version(dependency.slice('@bulwark/'.length))}`);
      }
    }
  });

  it('carries only the built files: no src/, no @bulwark/source condition', () => {
    for (const name of packages) {
      const tarball = tarballs.get(name) as string;
      const files = run('tar', ['-tzf', tarball], work).trim().split('\n');
      expect(
        files.filter((file) => !file.startsWith('package/dist/') && !/^package\/[^/]+$/.test(file)),
        name,
      ).toEqual([]);
      expect(run('tar', ['-xzOf', tarball, 'package/package.json'], work), name).not.toContain('@bulwark/source');
    }
  });

  it('type-checks a TypeScript user program (amqp, express subpaths) as CJS and ESM without skipLibCheck', () => {
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    /** tsc's report (it writes errors to stdout), empty when the program compiles. */
    const compile = (...files: string[]): string => {
      try {
        // tsc reads @types/node and express' types: allow a loaded machine more than `run` does.
        return execFileSync('node', [tsc, ...options, '--target', 'es2022', '--types', 'node', ...files], {
          cwd: project,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 180_000,
        });
      } catch (error) {
        return String((error as { stdout?: string }).stdout ?? error);
      }
    };
    copyFileSync(join(project, 'consumer.ts'), join(project, 'consumer.mts'));
    expect(compile('consumer.ts', 'consumer.mts')).toBe('');
    // Without the optional peer's types the amqp declarations cannot resolve (TS7016): the reason
    // @types/amqplib is listed beside amqplib as an optional peer dependency.
    const types = join(project, 'node_modules', '@types', 'amqplib');
    const aside = join(work, 'amqplib-types');
    renameSync(types, aside);
    try {
      expect(compile('consumer.ts')).toMatch(/dist\/amqp\/index\.d\.cts.*TS7016.*'amqplib'/);
    } finally {
      renameSync(aside, types);
    }
  }, 400_000);

  it('runs as ESM', () => {
    expect(run('node', ['smoke.mjs'], project).trim()).toBe(expectedOutput);
  });

  it('runs as CommonJS', () => {
    expect(run('node', ['smoke.cjs'], project).trim()).toBe(expectedOutput);
  });

  it('resolves to the built files under both conditions', () => {
    const resolve = (specifier: string) =>
      run('node', ['--input-type=module', '-e', `console.log(import.meta.resolve('${specifier}'))`], project).trim();
    const required = run('node', ['-e', "console.log(require.resolve('@bulwark/saga/postgres'))"], project).trim();
    expect(required).toBe(join(project, 'node_modules', '@bulwark', 'saga', 'dist', 'postgres', 'index.cjs'));
    expect(resolve('@bulwark/messaging/redis')).toBe(
      `file://${join(project, 'node_modules', '@bulwark', 'messaging', 'dist', 'redis', 'index.js')}`,
    );
  });
});
