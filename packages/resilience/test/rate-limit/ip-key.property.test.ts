import { InvalidOptionsError, ipKey } from '@bulwark/resilience';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const group = fc.integer({ min: 0, max: 0xffff });
const groups = fc.array(group, { minLength: 8, maxLength: 8 });
/** The full form, `2001:db8:0:0:…` (no `::`). */
const full = (parts: readonly number[]): string => parts.map((part) => part.toString(16)).join(':');
/** The canonical compressed form (RFC 5952), as the WHATWG URL parser writes it. */
const compressed = (parts: readonly number[]): string => new URL(`http://[${full(parts)}]/`).hostname.slice(1, -1);
/** Keeps the first `bits` bits of `parts` and takes the rest from `suffix`. */
const withPrefixOf = (parts: readonly number[], suffix: readonly number[], bits: number): number[] =>
  parts.map((part, index) => {
    const kept = Math.min(16, Math.max(0, bits - index * 16));
    const mask = kept === 0 ? 0 : (0xffff << (16 - kept)) & 0xffff;
    return (part & mask) | ((suffix[index] as number) & ~mask & 0xffff);
  });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));

describe('ipKey', () => {
  it('every address in one /64 maps to one key (prefix 64 and the default 56)', () => {
    fc.assert(
      fc.property(groups, groups, (network, host) => {
        const address = withPrefixOf(network, host, 64);
        expect(ipKey(compressed(address), { ipv6Prefix: 64 })).toBe(ipKey(compressed(network), { ipv6Prefix: 64 }));
        expect(ipKey(full(address))).toBe(ipKey(full(network)));
      }),
    );
  });

  it('every address in one /56 maps to one key by default, and other /56s to other keys', () => {
    fc.assert(
      fc.property(groups, groups, groups, (network, host, other) => {
        const inside = withPrefixOf(network, host, 56);
        expect(ipKey(compressed(inside))).toBe(ipKey(compressed(network)));
        const samePrefix =
          withPrefixOf(network, [0, 0, 0, 0, 0, 0, 0, 0], 56).join() ===
          withPrefixOf(other, [0, 0, 0, 0, 0, 0, 0, 0], 56).join();
        fc.pre(!samePrefix);
        // Not an IPv4-mapped address (those are keyed as IPv4).
        fc.pre(!(network.slice(0, 5).every((part) => part === 0) && network[5] === 0xffff));
        fc.pre(!(other.slice(0, 5).every((part) => part === 0) && other[5] === 0xffff));
        expect(ipKey(full(other))).not.toBe(ipKey(full(network)));
      }),
    );
  });

  it('the same address gives the same key in full, compressed and zoned form, for any prefix', () => {
    fc.assert(
      fc.property(groups, fc.integer({ min: 1, max: 128 }), (address, prefix) => {
        const key = ipKey(full(address), { ipv6Prefix: prefix });
        expect(ipKey(compressed(address), { ipv6Prefix: prefix })).toBe(key);
        expect(ipKey(`${compressed(address)}%eth0`, { ipv6Prefix: prefix })).toBe(key);
        expect(ipKey(full(address).toUpperCase(), { ipv6Prefix: prefix })).toBe(key);
      }),
    );
  });

  it('IPv4 and IPv4-mapped IPv6 addresses (dotted or hex) map alike', () => {
    fc.assert(
      fc.property(ipv4, ([a, b, c, d]) => {
        const dotted = `${a}.${b}.${c}.${d}`;
        expect(ipKey(dotted)).toBe(dotted);
        expect(ipKey(`::ffff:${dotted}`)).toBe(dotted);
        expect(ipKey(`0:0:0:0:0:ffff:${dotted}`)).toBe(dotted);
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        expect(ipKey(hex)).toBe(dotted);
      }),
    );
  });

  it('examples', () => {
    expect(ipKey('2001:db8:abcd:12ff::1')).toBe('2001:db8:abcd:1200::/56');
    expect(ipKey('2001:db8:abcd:12ff::1', { ipv6Prefix: 64 })).toBe('2001:db8:abcd:12ff::/64');
    expect(ipKey('::1', { ipv6Prefix: 128 })).toBe('0:0:0:0:0:0:0:1/128');
    expect(ipKey('64:ff9b::192.0.2.33', { ipv6Prefix: 128 })).toBe('64:ff9b:0:0:0:0:c000:221/128');
    expect(ipKey(undefined)).toBeUndefined();
  });

  it('refuses what is not an IP address, and a prefix outside 1..128', () => {
    for (const bad of ['', 'localhost', '1.2.3', '2001:db8::g', '1.2.3.4, 5.6.7.8', ':::'])
      expect(() => ipKey(bad), bad).toThrowError(InvalidOptionsError);
    for (const prefix of [0, 129, 56.5, Number.NaN])
      expect(() => ipKey('::1', { ipv6Prefix: prefix })).toThrowError(/ipv6Prefix/);
  });
});
