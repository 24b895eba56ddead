import { readFile } from 'node:fs/promises';
import { defineConfig, type Plugin } from 'vitest/config';
import { ClosingLineReporter } from './tools/test-support/src/closing-line-reporter.js';

/** Loads .sql/.lua files as strings, the way tsup's text loader bundles them. */
function textAssets(): Plugin {
  return {
    name: 'bulwark-text-assets',
    async load(id) {
      if (!/\.(sql|lua)$/.test(id)) return null;
      return `export default ${JSON.stringify(await readFile(id, 'utf8'))};`;
    },
  };
}

/** Suites that talk to real servers (PostgreSQL, Redis, RabbitMQ, S3) or kill processes. */
const serverSuites = ['**/*.conformance.test.ts', '**/*.integration.test.ts', '**/*.fault.test.ts'];
const exclude = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  plugins: [textAssets()],
  resolve: { conditions: ['@bulwark/source'] },
  ssr: { resolve: { conditions: ['@bulwark/source'] } },
  test: {
    reporters: ['default', new ClosingLineReporter()],
    globalSetup: ['tools/test-support/src/test-run-setup.ts'],
    // expect.poll waits 1 s by default: too short for a loaded CI machine sharing its servers.
    expect: { poll: { timeout: 10_000 } },
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**'],
      reporter: ['text-summary', 'html', 'json-summary'],
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: [
            'packages/*/test/**/*.test.ts',
            'tools/*/test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'docs/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
          ],
          exclude: [...exclude, ...serverSuites],
        },
      },
      {
        extends: true,
        test: {
          name: 'servers',
          // Runs after the unit project, with its own worker limit.
          sequence: { groupOrder: 1 },
          include: serverSuites.flatMap((glob) => [
            `packages/*/test/${glob}`,
            `tools/*/test/${glob}`,
            `examples/*/test/${glob}`,
            `docs/test/${glob}`,
          ]),
          exclude,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Suites share the loopback servers; two workers keep them busy without starving them.
          maxWorkers: 2,
        },
      },
    ],
  },
});
