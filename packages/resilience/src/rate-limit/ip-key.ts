import { isIPv4, isIPv6 } from 'node:net';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/** Options of {@link ipKey}. */
export interface IpKeyOptions {
  /**
   * How many leading bits of an IPv6 address make one key, from 1 to 128.
   *
   * 56 by default: a subscriber line is commonly given a /56 (RIPE-690 recommends a /56 or a /48
   * per end site), so one client owns 256 /64 networks and every address in them; a /64 key
   * would let it spray across those 256 networks, each with a fresh quota. Use 64 where
   * providers hand out single /64s (mobile networks) and several clients could share a /56;
   * 48 where clients may own whole /48s.
   * @defaultValue 56
   */
  readonly ipv6Prefix?: number;
}

/** The defaults of {@link IpKeyOptions}. */
export const ipKeyDefaults = { ipv6Prefix: 56 } as const;

/** The eight 16-bit groups of a valid IPv6 address (zone index dropped, embedded IPv4 expanded). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%', 1)[0] as string;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (isIPv4(last)) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const gap = text.indexOf('::');
  if (gap === -1) return parse(text);
  const head = parse(text.slice(0, gap));
  const tail = parse(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * The rate-limit key of a client IP address: an IPv4 address is its own key; an IPv6 address is
 * grouped by its first `ipv6Prefix` bits (56 by default, see {@link IpKeyOptions}), so one client
 * cannot escape its limit by rotating through the addresses of its own network. IPv4-mapped IPv6
 * addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for IPv4 clients) give the
 * same key as the IPv4 address. `undefined` (no address known) gives `undefined`, which the HTTP
 * helpers treat as "not limited": return a fixed key instead if that is not what you want.
 *
 * Throws `InvalidOptionsError` for a string that is not an IP address (e.g. a forged
 * `X-Forwarded-For`), so a malformed value never becomes a key of its own.
 *
 * @example
 * ```ts
 * app.use(rateLimitMiddleware({ limiter, key: (request) => ipKey(request.ip), whenStoreDown: 'allow' }));
 * ipKey('2001:db8:abcd:12ff::1'); // '2001:db8:abcd:1200::/56'
 * ipKey('::ffff:192.0.2.1');      // '192.0.2.1'
 * ```
 */
export function ipKey(address: string | undefined, options?: IpKeyOptions): string | undefined {
  const prefix = options?.ipv6Prefix ?? ipKeyDefaults.ipv6Prefix;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128)
    throw new InvalidOptionsError('ipKey', [`ipv6Prefix must be an integer from 1 to 128, got ${String(prefix)}`]);
  if (address === undefined) return undefined;
  if (isIPv4(address)) return address;
  if (!isIPv6(address))
    throw new InvalidOptionsError('ipKey', [`address must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`]);
  const groups = ipv6Groups(address);
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const high = groups[6] as number;
    const low = groups[7] as number;
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  const masked = groups.map((group, index) => {
    const bitsKept = Math.min(16, Math.max(0, prefix - index * 16));
    return bitsKept === 0 ? 0 : group & (0xffff << (16 - bitsKept)) & 0xffff;
  });
  const shown = masked.slice(0, Math.ceil(prefix / 16)).map((group) => group.toString(16));
  return `${shown.join(':')}${shown.length < 8 ? '::' : ''}/${prefix}`;
}
