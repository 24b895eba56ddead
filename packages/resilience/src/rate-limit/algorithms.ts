import { OptionsValidator } from '../policy/options.js';

/**
 * A rate-limiting algorithm, normalised to the numbers every store works with. Time is in integer
 * microseconds so the memory (TypeScript), Redis (Lua) and PostgreSQL (SQL) stores compute the
 * same decisions with the same exact arithmetic. Make one with {@link tokenBucket}, {@link gcra},
 * {@link fixedWindow} or {@link slidingWindow}.
 *
 * Three state machines implement the four algorithms:
 * - `gcra` (for {@link gcra} and {@link tokenBucket}): one number per key, the theoretical arrival
 *   time (TAT). A token bucket that refills continuously admits exactly what GCRA admits
 *   (capacity = burst, one token per emission interval), so both share it;
 * - `fixed-window`: the window start and the count in it;
 * - `sliding-window`: the current window start, its count and the previous window's count; the
 *   previous count is weighted by how much of it still overlaps the sliding window.
 */
export type RateLimitAlgorithm = GcraAlgorithm | FixedWindowAlgorithm | SlidingWindowAlgorithm;

/** The GCRA state machine, behind {@link gcra} and {@link tokenBucket}. */
export interface GcraAlgorithm {
  readonly kind: 'gcra';
  /** The factory that made it, for messages. */
  readonly label: 'gcra' | 'tokenBucket';
  /** Capacity: the most units admitted at once (the burst). */
  readonly limit: number;
  /** Microseconds per unit of refill (the emission interval), an integer ≥ 1. */
  readonly intervalUs: number;
}

/** The fixed-window counter behind {@link fixedWindow}. */
export interface FixedWindowAlgorithm {
  readonly kind: 'fixed-window';
  readonly label: 'fixedWindow';
  /** Units admitted per window. */
  readonly limit: number;
  /** Window length in microseconds. */
  readonly windowUs: number;
}

/** The two-window weighted counter behind {@link slidingWindow}. */
export interface SlidingWindowAlgorithm {
  readonly kind: 'sliding-window';
  readonly label: 'slidingWindow';
  /** Units admitted per sliding window. */
  readonly limit: number;
  /** Window length in microseconds. */
  readonly windowUs: number;
}

/** Options of {@link tokenBucket}. */
export interface TokenBucketOptions {
  /** Most units the bucket holds; a full bucket admits this many at once. */
  readonly capacity: number;
  /** Units added back per second, continuously (not in steps). */
  readonly refillPerSecond: number;
}

/** Options of {@link gcra}. */
export interface GcraOptions {
  /** Units admitted per `periodMs` on average. */
  readonly rate: number;
  /**
   * Length of the period `rate` is counted over.
   * @defaultValue 1000
   */
  readonly periodMs?: number;
  /**
   * Most units admitted at once after an idle spell.
   * @defaultValue rate
   */
  readonly burst?: number;
}

/** Options of {@link fixedWindow} and {@link slidingWindow}. */
export interface WindowOptions {
  /** Units admitted per window. */
  readonly limit: number;
  /** Window length in milliseconds (an integer). */
  readonly windowMs: number;
}

const MAX_LIMIT = 1_000_000_000;
const MAX_WINDOW_MS = 366 * 24 * 3_600_000;

const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;
const isPositiveFinite = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value > 0;

function checkLimit(validator: OptionsValidator, name: string, value: unknown): void {
  if (!isPositiveInteger(value) || value > MAX_LIMIT)
    validator.report(`${name} must be an integer from 1 to ${MAX_LIMIT}, got ${String(value)}`);
}

/**
 * A token bucket: holds up to `capacity` units and refills `refillPerSecond` units per second,
 * continuously. Stored as GCRA state (one number per key).
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 20, refillPerSecond: 5 }) });
 * ```
 */
export function tokenBucket(options: TokenBucketOptions): GcraAlgorithm {
  const validator = new OptionsValidator('tokenBucket');
  checkLimit(validator, 'capacity', options?.capacity);
  if (!isPositiveFinite(options?.refillPerSecond))
    validator.report(`refillPerSecond must be a positive number, got ${String(options?.refillPerSecond)}`);
  const intervalUs = validator.valid ? Math.round(1_000_000 / options.refillPerSecond) : 0;
  if (validator.valid && (intervalUs < 1 || intervalUs > MAX_WINDOW_MS * 1000))
    validator.report(`refillPerSecond must be between one per year and 1,000,000, got ${options.refillPerSecond}`);
  if (validator.valid && options.capacity * intervalUs > Number.MAX_SAFE_INTEGER)
    validator.report('capacity / refillPerSecond must be under 285 years (time to refill a full bucket)');
  validator.throwIfInvalid();
  return { kind: 'gcra', label: 'tokenBucket', limit: options.capacity, intervalUs };
}

/**
 * The generic cell rate algorithm: `rate` units per `periodMs`, evenly spaced, with bursts of up
 * to `burst` units after idle time. One number (the theoretical arrival time) per key.
 *
 * @example
 * ```ts
 * // 10 requests per second, 20 at once after an idle spell.
 * const limiter = rateLimiter({ algorithm: gcra({ rate: 10, burst: 20 }) });
 * ```
 */
export function gcra(options: GcraOptions): GcraAlgorithm {
  const validator = new OptionsValidator('gcra');
  if (!isPositiveFinite(options?.rate))
    validator.report(`rate must be a positive number, got ${String(options?.rate)}`);
  const periodMs = options?.periodMs ?? 1000;
  if (!isPositiveFinite(periodMs)) validator.report(`periodMs must be a positive number, got ${String(periodMs)}`);
  const burst = options?.burst ?? options?.rate;
  checkLimit(validator, 'burst', burst);
  const intervalUs = validator.valid ? Math.round((periodMs * 1000) / options.rate) : 0;
  if (validator.valid && (intervalUs < 1 || intervalUs > MAX_WINDOW_MS * 1000))
    validator.report('rate / periodMs must leave between 1 µs and one year between two units');
  if (validator.valid && (burst as number) * intervalUs > Number.MAX_SAFE_INTEGER)
    validator.report('burst × periodMs / rate must be under 285 years (time to refill a full burst)');
  validator.throwIfInvalid();
  return { kind: 'gcra', label: 'gcra', limit: burst as number, intervalUs };
}

function validateWindow(subject: string, options: WindowOptions): void {
  const validator = new OptionsValidator(subject);
  checkLimit(validator, 'limit', options?.limit);
  if (!isPositiveInteger(options?.windowMs) || options.windowMs > MAX_WINDOW_MS)
    validator.report(`windowMs must be an integer from 1 to ${MAX_WINDOW_MS}, got ${String(options?.windowMs)}`);
  validator.throwIfInvalid();
}

/**
 * At most `limit` units per window of `windowMs`, windows aligned on the epoch (all instances agree
 * on window boundaries). Cheap and exact, but admits up to twice `limit` across a boundary.
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) });
 * ```
 */
export function fixedWindow(options: WindowOptions): FixedWindowAlgorithm {
  validateWindow('fixedWindow', options);
  return { kind: 'fixed-window', label: 'fixedWindow', limit: options.limit, windowUs: options.windowMs * 1000 };
}

/**
 * At most `limit` units in any window of `windowMs`, approximated by weighting the previous fixed
 * window's count by how much of it the sliding window still covers (as Cloudflare and
 * rate-limiter-flexible do): constant memory per key, no boundary bursts.
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }) });
 * ```
 */
export function slidingWindow(options: WindowOptions): SlidingWindowAlgorithm {
  validateWindow('slidingWindow', options);
  return { kind: 'sliding-window', label: 'slidingWindow', limit: options.limit, windowUs: options.windowMs * 1000 };
}
