// Run-time configuration from the environment and the command line. Defaults give a shop that
// starts on a fresh machine with no services: embedded PostgreSQL and memory/filesystem adapters.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const roles = ['api', 'orders', 'email', 'relay', 'payment', 'gateway', 'all'] as const;
export type Role = (typeof roles)[number];

export interface ShopConfig {
  port: number;
  host: string;
  dataDir: string;
  /** Absent: an embedded PostgreSQL under `dataDir/postgres`. */
  databaseUrl?: string;
  redisUrl?: string;
  amqpUrl?: string;
  /**
   * RabbitMQ deletes a group queue of the shop once it has had no consumer for this long
   * (`x-expires`). Only for a test run under a namespace of its own, whose queues nobody uses
   * after it; set by the test, never from the environment: a service's queues must not expire.
   */
  amqpQueueExpiresMs?: number;
  s3?: { endPoint: string; port?: number; useSSL: boolean; accessKey: string; secretKey: string; bucket: string };
  smtpUrl?: string;
  role: Role;
  jwtSecret: string;
  /** Public URL of the payment provider when it runs as its own process (`--role payment`). */
  paymentUrl?: string;
  /** The API processes behind `--role gateway` (GATEWAY_UPSTREAMS="http://127.0.0.1:3001,http://127.0.0.1:3002"). */
  upstreams?: string[];
  /** Requests per client IP per minute through the gateway (GATEWAY_RATE_LIMIT, default 600). */
  gatewayRateLimit?: number;
  logLevel: string;
  /**
   * `json` (the default: one JSON object a line, for a log collector) or `pretty` (one coloured
   * line an event, for a person at a terminal; `pnpm dev` sets it). LOG_FORMAT.
   */
  logFormat: 'json' | 'pretty';
  /**
   * Prefix of every queue, stream, key and exchange the shop uses on shared Redis/RabbitMQ
   * servers, so several shops (or test runs) can share one server (SHOP_NAMESPACE).
   */
  namespace: string;
  /** Consumer retry delays before dead-lettering (SHOP_RETRY_DELAYS_MS="1000,5000,15000"). */
  retryDelaysMs: number[];
  /** How long the payment breaker stays open before a probe (SHOP_BREAKER_HALF_OPEN_MS). */
  breakerHalfOpenMs: number;
  /** Failed logins allowed per IP in 15 minutes (SHOP_LOGIN_FAILURES_PER_IP, default 5). */
  loginFailuresPerIp: number;
  /** How long a cached catalog read is fresh (SHOP_CATALOG_TTL_MS, default 30 s); stale reads serve 10 minutes more on errors. */
  catalogTtlMs: number;
  /** How long a choreographed flow (shipping, notification) may stay silent before it counts as stalled (SHOP_FLOW_STALL_MS, default 5 min). */
  flowStallMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseRole(argv: readonly string[]): Role {
  const index = argv.indexOf('--role');
  const inline = argv.find((argument) => argument.startsWith('--role='));
  const value = inline ? inline.slice('--role='.length) : index >= 0 ? argv[index + 1] : 'all';
  if (!roles.includes(value as Role))
    throw new ConfigError(`--role must be one of ${roles.join(', ')}; got "${value}"`);
  return value as Role;
}

/** The JWT secret: JWT_SECRET, else one generated once and kept in the data directory. */
function jwtSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

function s3Config(env: NodeJS.ProcessEnv): ShopConfig['s3'] {
  if (!env.S3_ENDPOINT) return undefined;
  const url = new URL(env.S3_ENDPOINT.includes('://') ? env.S3_ENDPOINT : `http://${env.S3_ENDPOINT}`);
  const missing = ['S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET'].filter((name) => !env[name]);
  if (missing.length) throw new ConfigError(`S3_ENDPOINT is set but ${missing.join(', ')} missing`);
  return {
    endPoint: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    useSSL: url.protocol === 'https:',
    accessKey: env.S3_ACCESS_KEY as string,
    secretKey: env.S3_SECRET_KEY as string,
    bucket: env.S3_BUCKET as string,
  };
}

function parseLogFormat(text: string | undefined): ShopConfig['logFormat'] {
  if (text === undefined || text === 'json' || text === 'pretty') return text ?? 'json';
  throw new ConfigError(`LOG_FORMAT must be json or pretty; got "${text}"`);
}

function parseDelays(text: string): number[] {
  const delays = text.split(',').map((part) => Number(part.trim()));
  if (delays.some((delay) => !Number.isInteger(delay) || delay < 0)) {
    throw new ConfigError(`SHOP_RETRY_DELAYS_MS must be comma-separated whole milliseconds; got "${text}"`);
  }
  return delays;
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv.slice(2),
): ShopConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError(`PORT must be 0–65535; got "${env.PORT}"`);
  const dataDir = resolve(env.DATA_DIR ?? '.data');
  mkdirSync(dataDir, { recursive: true });
  const config: ShopConfig = {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir,
    role: parseRole(argv),
    jwtSecret: jwtSecret(env, dataDir),
    logLevel: env.LOG_LEVEL ?? 'info',
    logFormat: parseLogFormat(env.LOG_FORMAT),
    namespace: env.SHOP_NAMESPACE ?? 'eshop',
    retryDelaysMs: parseDelays(env.SHOP_RETRY_DELAYS_MS ?? '1000,5000,15000'),
    breakerHalfOpenMs: Number(env.SHOP_BREAKER_HALF_OPEN_MS ?? 5_000),
    loginFailuresPerIp: Number(env.SHOP_LOGIN_FAILURES_PER_IP ?? 5),
    catalogTtlMs: Number(env.SHOP_CATALOG_TTL_MS ?? 30_000),
    flowStallMs: Number(env.SHOP_FLOW_STALL_MS ?? 300_000),
  };
  if (!(config.flowStallMs > 0))
    throw new ConfigError(`SHOP_FLOW_STALL_MS must be a positive number; got "${env.SHOP_FLOW_STALL_MS}"`);
  if (!(config.catalogTtlMs > 0)) {
    throw new ConfigError(`SHOP_CATALOG_TTL_MS must be a positive number; got "${env.SHOP_CATALOG_TTL_MS}"`);
  }
  if (!Number.isInteger(config.loginFailuresPerIp) || config.loginFailuresPerIp < 1) {
    throw new ConfigError(
      `SHOP_LOGIN_FAILURES_PER_IP must be a whole number of at least 1; got "${env.SHOP_LOGIN_FAILURES_PER_IP}"`,
    );
  }
  if (!/^[a-z0-9_-]{1,40}$/i.test(config.namespace))
    throw new ConfigError(`SHOP_NAMESPACE must be 1–40 letters, digits, _ or -; got "${config.namespace}"`);
  if (!(config.breakerHalfOpenMs > 0))
    throw new ConfigError(
      `SHOP_BREAKER_HALF_OPEN_MS must be a positive number; got "${env.SHOP_BREAKER_HALF_OPEN_MS}"`,
    );
  if (env.DATABASE_URL) config.databaseUrl = env.DATABASE_URL;
  if (env.REDIS_URL) config.redisUrl = env.REDIS_URL;
  if (env.AMQP_URL) config.amqpUrl = env.AMQP_URL;
  if (env.SMTP_URL) config.smtpUrl = env.SMTP_URL;
  if (env.PAYMENT_URL) config.paymentUrl = env.PAYMENT_URL;
  const s3 = s3Config(env);
  if (s3) config.s3 = s3;
  if (config.role === 'gateway') {
    const upstreams = (env.GATEWAY_UPSTREAMS ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter(Boolean);
    if (upstreams.length === 0 || upstreams.some((url) => !URL.canParse(url)))
      throw new ConfigError(
        `--role gateway needs GATEWAY_UPSTREAMS, the API processes' URLs separated by commas; got "${env.GATEWAY_UPSTREAMS ?? ''}"`,
      );
    config.upstreams = upstreams;
    const rateLimit = Number(env.GATEWAY_RATE_LIMIT ?? 600);
    if (!Number.isInteger(rateLimit) || rateLimit < 1)
      throw new ConfigError(`GATEWAY_RATE_LIMIT must be a whole number of at least 1; got "${env.GATEWAY_RATE_LIMIT}"`);
    config.gatewayRateLimit = rateLimit;
    return config;
  }
  if (config.role !== 'all' && !config.databaseUrl) {
    throw new ConfigError(
      `--role ${config.role} runs one part of a shop spread over processes: set DATABASE_URL so they share one database`,
    );
  }
  return config;
}
