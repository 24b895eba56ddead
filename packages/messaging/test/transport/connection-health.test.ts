import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { healthTracker } from '../../src/transport/connection-health.js';

describe('healthTracker (the health of a transport)', () => {
  it('is up from creation, degraded from the first failure (since kept, lastError updated), up again on success', () => {
    const clock = manualClock(1_000);
    const health = healthTracker(clock);
    expect(health.current).toEqual({ status: 'up', since: 1_000 });
    clock.advance(500);
    health.up(); // already up: `since` does not move
    expect(health.current).toEqual({ status: 'up', since: 1_000 });
    health.degraded(new Error('Connection is closed.'));
    expect(health.current).toEqual({ status: 'degraded', since: 1_500, lastError: 'Connection is closed.' });
    clock.advance(2_000);
    health.degraded('ECONNREFUSED');
    expect(health.current).toEqual({ status: 'degraded', since: 1_500, lastError: 'ECONNREFUSED' });
    clock.advance(250);
    health.up();
    expect(health.current).toEqual({ status: 'up', since: 3_750 });
  });
});
