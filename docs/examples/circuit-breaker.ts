import { BrokenCircuitError, circuitBreaker, consecutive, failureRate } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';

// A manual clock makes the example deterministic; leave `clock` out in production.
const clock = manualClock();
const inventory = circuitBreaker({
  name: 'inventory',
  strategy: consecutive(3), // open after 3 failures in a row
  halfOpenAfter: 10_000, // then let one probe through after 10 s
  failureOn: (error) => !(error instanceof TypeError), // bugs do not open the circuit
  clock,
});
inventory.onStateChange(({ from, to }) => console.log(`inventory: ${from} -> ${to}`));

const down = async (): Promise<number> => {
  throw new Error('ECONNREFUSED');
};
for (let call = 0; call < 3; call++) await inventory.execute(down).catch(() => {});

try {
  await inventory.execute(async () => 42); // not called: the circuit is open
} catch (error) {
  if (error instanceof BrokenCircuitError) console.log(`fail fast, retry in ${error.retryAfterMs} ms`);
}

clock.advance(10_000); // the half-open delay passes; the next call is the probe
console.log(`probe answered ${await inventory.execute(async () => 42)}`);
console.log(`state: ${inventory.snapshot().state}`);

// A rate-based strategy for busy dependencies: open when half of the last 100 calls failed.
const payments = circuitBreaker({
  name: 'payments',
  strategy: failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }),
  halfOpenAfter: 30_000,
});
console.log(`payments: ${payments.state}`);
// inventory: closed -> open
// fail fast, retry in 10000 ms
// inventory: open -> half-open
// inventory: half-open -> closed
// probe answered 42
// state: closed
// payments: closed
