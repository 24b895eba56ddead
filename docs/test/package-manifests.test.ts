// The published manifests: `publishConfig.exports` (what `pnpm pack`/`pnpm publish` write into the
// tarball) is the workspace `exports` map without the `@bulwark/source` condition, which points at
// TypeScript sources that are not published; `files` is only `dist`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

type Target = string | Record<string, unknown>;
interface Manifest {
  exports: Record<string, Target>;
  files: string[];
  publishConfig?: { exports?: Record<string, Target> };
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const root = join(import.meta.dirname, '..', '..');
const manifest = (name: string): Manifest =>
  JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as Manifest;

describe.each(['resilience', 'messaging', 'saga'])('@bulwark/%s package.json', (name) => {
  it('publishes the exports map without the @bulwark/source condition', () => {
    const { exports, publishConfig } = manifest(name);
    const published = Object.fromEntries(
      Object.entries(exports).map(([subpath, target]) => {
        if (typeof target === 'string') return [subpath, target];
        const { '@bulwark/source': _source, ...rest } = target;
        return [subpath, rest];
      }),
    );
    expect(publishConfig?.exports, 'publishConfig.exports must equal exports minus @bulwark/source').toEqual(published);
  });

  it('publishes only dist', () => {
    expect(manifest(name).files).toEqual(['dist']);
  });

  it('lists the type packages its declarations import beside their optional peers', () => {
    const { peerDependencies = {}, peerDependenciesMeta = {} } = manifest(name);
    for (const [runtime, types] of [
      ['amqplib', '@types/amqplib'],
      ['express', '@types/express'],
    ] as const) {
      if (!(runtime in peerDependencies)) continue;
      expect(peerDependencies[types], `${types} beside ${runtime}`).toBeDefined();
      expect(peerDependenciesMeta[types]?.optional, `${types} optional`).toBe(true);
    }
  });
});
