// The docs site: the typedoc API reference of every package entry (one module per subpath
// export, read from the packages' `exports` maps) plus the Markdown guides in ./guides.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const packages = ['resilience', 'messaging', 'saga'];

const entryPoints = packages.flatMap((name) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
  return Object.values(manifest.exports)
    .map((target) => (typeof target === 'object' ? target['@bulwark/source'] : undefined))
    .filter(Boolean)
    .map((source) => join(root, 'packages', name, source));
});

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'Bulwark',
  entryPoints,
  entryPointStrategy: 'resolve',
  plugin: [join(import.meta.dirname, 'plugins', 'concept-groups.mjs')],
  tsconfig: join(import.meta.dirname, 'tsconfig.json'),
  out: join(import.meta.dirname, 'dist'),
  readme: join(import.meta.dirname, 'guides', 'index.md'),
  // Every guide but index.md, which is the home page.
  projectDocuments: readdirSync(join(import.meta.dirname, 'guides'))
    .filter((file) => file.endsWith('.md') && file !== 'index.md')
    .map((file) => join(import.meta.dirname, 'guides', file)),
  includeVersion: false,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  categorizeByGroup: true,
  sort: ['kind', 'instance-first', 'alphabetical-ignoring-documents'],
  validation: {
    notExported: true,
    invalidLink: true,
    invalidPath: true,
    rewrittenLink: true,
    notDocumented: true,
    unusedMergeModuleWith: true,
  },
  treatWarningsAsErrors: true,
  treatValidationWarningsAsErrors: true,
  githubPages: false,
  disableSources: true,
  hideGenerator: true,
};
