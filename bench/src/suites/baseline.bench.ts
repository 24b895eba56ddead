import type { BenchmarkDefinition } from '../harness.js';

const noop = async () => {};

/** Sanity check of the harness: the cost of a bare `await` of an async no-op. */
const definitions: BenchmarkDefinition[] = [
  {
    name: 'harness.await',
    description: 'bare await of an async no-op',
    mode: { kind: 'op' },
    operations: 200_000,
    subjects: { 'bare await': () => ({ run: noop }) },
  },
];
export default definitions;
