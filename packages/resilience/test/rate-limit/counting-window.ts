import { fixedWindow } from '@bulwark/resilience';

/**
 * The window the fault tests count every decision of a run in (`limit - remaining`). Fixed
 * windows are aligned on the epoch, so a short one can end mid-run and start the count again: a CI
 * run that crossed 19:00 UTC with a 1-hour window counted 83 of 409 acknowledged decisions. One of
 * 366 days ends once a year.
 */
export const countingWindow = fixedWindow({ limit: 10_000_000, windowMs: 366 * 24 * 3_600_000 });
