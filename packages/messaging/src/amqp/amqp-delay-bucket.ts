/**
 * Rounds a delay up to two significant digits, so jittered delays share a few delay queues.
 *
 * @internal
 */
export function delayBucketMs(delayMs: number): number {
  if (delayMs <= 0) return 0;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(delayMs)) - 1);
  return Math.ceil(delayMs / magnitude) * magnitude;
}
