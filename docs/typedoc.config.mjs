// The docs site: the typedoc API reference of every package entry (one module per subpath
// export, read from the packages' `exports` maps, but for the `./internal/*` ones the packages
// share among themselves) plus the Markdown guides in ./guides.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const packages = ['resilience', 'messaging', 'saga'];

const entryPoints = packages.flatMap((name) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
  return Object.entries(manifest.exports)
    .filter(([subpath]) => !subpath.startsWith('./internal/'))
    .map(([, target]) => (typeof target === 'object' ? target['@bulwark/source'] : undefined))
    .filter(Boolean)
    .map((source) => join(root, 'packages', name, source));
});

// Every guide but index.md (the home page), in reading order; guides not listed here follow.
const readingOrder = [
  'getting-started.md',
  'circuit-breaker.md',
  'retry.md',
  'bulkhead.md',
  'rate-limiting.md',
  'timeout-fallback-hedge.md',
  'caching.md',
  'http.md',
  'idempotency.md',
  'claim-check.md',
  'outbox.md',
  'read-models.md',
  'consumers.md',
  'transports-and-consumers.md',
  'saga.md',
  'choreography.md',
  'choosing-adapters.md',
  'several-machines.md',
  'operating.md',
  'observability.md',
  'reference-shop.md',
];
const guides = readdirSync(join(import.meta.dirname, 'guides'))
  .filter((file) => file.endsWith('.md') && file !== 'index.md')
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(file) {
  const index = readingOrder.indexOf(file);
  return index === -1 ? readingOrder.length : index;
}

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'Bulwark',
  entryPoints,
  entryPointStrategy: 'resolve',
  plugin: [join(import.meta.dirname, 'plugins', 'concept-groups.mjs')],
  tsconfig: join(import.meta.dirname, 'tsconfig.json'),
  out: join(import.meta.dirname, 'dist'),
  readme: join(import.meta.dirname, 'guides', 'index.md'),
  projectDocuments: guides.map((file) => join(import.meta.dirname, 'guides', file)),
  includeVersion: false,
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  categorizeByGroup: true,
  // The sidebar lists each module's exports under the same concept groups as its page.
  navigation: { includeGroups: true },
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
