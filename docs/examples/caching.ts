import { cache, circuitBreaker, consecutive, memoryCacheStore } from '@bulwark/resilience';

// Fresh for 1 s, answered stale for 60 s more when the source fails (stale-if-error).
const catalog = cache({ store: memoryCacheStore({ maxEntries: 1_000 }), ttlMs: 1_000, graceMs: 60_000 });
const database = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 30_000 });

let databaseUp = true;
let queries = 0;
const listProducts = () =>
  database.execute(async () => {
    queries += 1;
    if (!databaseUp) throw new Error('database unreachable');
    return ['kettle', 'teapot'];
  });
catalog.on('stale', ({ reason, ageMs }) =>
  console.log(`stale answer (${reason}) after ${ageMs >= 1_000 ? '>= 1 s' : ageMs}`),
);

// 100 callers of a cold key: one query (single flight).
const answers = await Promise.all(
  Array.from({ length: 100 }, () => catalog.getOrSet('products', listProducts, { tags: ['products'] })),
);
console.log(answers.length, answers[0], queries);

// The database goes down after the value went stale: the stale value is answered, the breaker opens,
// and the next read does not even try the database.
databaseUp = false;
await new Promise((resolve) => setTimeout(resolve, 1_100));
console.log(await catalog.getOrSet('products', listProducts));
console.log(await catalog.getOrSet('products', listProducts), queries);

// A product changed: invalidate by tag (and, with a bus, in every process's memory tier).
databaseUp = true;
await catalog.invalidate({ tags: ['products'] });
console.log(await catalog.get('products'));
console.log(catalog.snapshot().staleAnswers);
// 100 [ 'kettle', 'teapot' ] 1
// stale answer (error) after >= 1 s
// [ 'kettle', 'teapot' ]
// stale answer (error) after >= 1 s
// [ 'kettle', 'teapot' ] 2
// undefined
// 2
