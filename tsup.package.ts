// Shared tsup configuration: every package builds the entries named by its `exports` map,
// so adding a subpath export (`./redis`) is the only step needed to publish it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Options } from 'tsup';

type ExportEntry = { '@bulwark/source'?: string };

export function packageConfig(packageDir: string = process.cwd()): Options {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    exports: Record<string, ExportEntry | string>;
  };
  const entry: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string' || !target['@bulwark/source']) continue;
    const name = subpath === '.' ? 'index' : `${subpath.slice(2)}/index`;
    entry[name] = target['@bulwark/source'];
  }
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    // No source maps: they would carry the sources (sourcesContent) into the tarballs, and the
    // output is not minified, so stack traces already point at readable code.
    sourcemap: false,
    target: 'node20',
    platform: 'node',
    splitting: true,
    treeshake: true,
    loader: { '.sql': 'text', '.lua': 'text' },
  };
}

export default defineConfig(packageConfig());
