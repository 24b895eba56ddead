// The shop's logger (pino): JSON lines by default, for a log collector; with LOG_FORMAT=pretty
// (`pnpm dev` sets it) one readable, coloured line an event, for a person at a terminal. An
// explicit variable rather than NODE_ENV: NODE_ENV also changes what libraries do, and a
// production process debugged by hand may want pretty lines without any of that.
import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { ShopConfig } from '../config.js';

const redact = ['req.headers.authorization', '*.password', 'password'];

/** `destination` (stdout when absent) is where the lines go; tests pass their own. */
export function shopLogger(
  config: Pick<ShopConfig, 'logLevel' | 'logFormat'>,
  destination?: pino.DestinationStream,
): pino.Logger {
  if (config.logFormat === 'json')
    return destination
      ? pino({ level: config.logLevel, redact }, destination)
      : pino({ level: config.logLevel, redact });
  // In-process and synchronous (no transport worker), so the last lines before an exit are kept.
  const stream = pretty({
    singleLine: true,
    colorize: destination === undefined && process.stdout.isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    sync: true,
    ...(destination ? { destination } : {}),
  });
  return pino({ level: config.logLevel, redact }, stream);
}
