import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { ConnectionHealthTracker } from '../../src/transport/connection-health.js';

describe('ConnectionHealthTracker (the health of a transport)', () => {
  it('is up from creation (no since until it changes), degraded from the first failure (since kept, lastError updated), up again on success', () => {
    const clock = manualClock(1_000);
    const health = new ConnectionHealthTracker(clock);
    expect(health.health).toEqual({ status: 'up' });
    clock.advance(500);
    health.succeeded(); // already up: `since` does not move
    expect(health.health).toEqual({ status: 'up' });
    health.failed(new Error('Connection is closed.'));
    expect(health.health).toEqual({ status: 'degraded', since: 1_500, lastError: 'Connection is closed.' });
    clock.advance(2_000);
    health.failed('ECONNREFUSED');
    expect(health.health).toEqual({ status: 'degraded', since: 1_500, lastError: 'ECONNREFUSED' });
    clock.advance(250);
    health.succeeded();
    expect(health.health).toEqual({ status: 'up', since: 3_750 });
  });
});
