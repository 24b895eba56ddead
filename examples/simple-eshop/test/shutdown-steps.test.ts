// A process's shutdown: steps close last-added first, one failing does not stop the others, and a
// step that runs long is reported while it runs.
import { afterEach, expect, it, vi } from 'vitest';
import { shutdownSteps } from '../src/infrastructure/shutdown-steps.js';

afterEach(() => {
  vi.useRealTimers();
});

it('closes the steps in the reverse order of adding, an inserted one at its place', async () => {
  const steps = shutdownSteps();
  const closed: string[] = [];
  const step = (name: string) => async () => void closed.push(name);
  steps.add('database', step('database'));
  steps.add('transport', step('transport'));
  steps.add('server', step('server'));
  steps.insert(1, 'telemetry', step('telemetry'));
  await steps.closeAll();
  expect(closed).toEqual(['server', 'transport', 'telemetry', 'database']);
  // Closed once: a second call has nothing left to close.
  await steps.closeAll();
  expect(closed).toHaveLength(4);
});

it('reports a step that fails and closes the next ones', async () => {
  const steps = shutdownSteps();
  const closed: string[] = [];
  const failures: [string, unknown][] = [];
  steps.add('database', async () => void closed.push('database'));
  steps.add('relay', async () => {
    throw new Error('connection lost');
  });
  await steps.closeAll({ slow: () => {}, failed: (name, error) => failures.push([name, error]) });
  expect(failures).toEqual([['relay', new Error('connection lost')]]);
  expect(closed).toEqual(['database']);
});

it('names a step that is still closing, every slowAfterMs while it runs', async () => {
  vi.useFakeTimers();
  const steps = shutdownSteps();
  let finish: () => void = () => {};
  steps.add('http server', () => new Promise<void>((resolve) => (finish = resolve)));
  const slow: [string, number][] = [];
  const closing = steps.closeAll({ slow: (name, elapsedMs) => slow.push([name, elapsedMs]), failed: () => {} }, 5_000);
  await vi.advanceTimersByTimeAsync(12_000);
  expect(slow).toEqual([
    ['http server', 5_000],
    ['http server', 10_000],
  ]);
  finish();
  await closing;
  await vi.advanceTimersByTimeAsync(10_000);
  expect(slow).toHaveLength(2);
});
