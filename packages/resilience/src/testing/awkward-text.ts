import { maxKeyBytes } from '../storable-text/storable-text.js';

// 64 KiB that no compression shrinks much, so a B-tree index cannot take it by accident.
const sixtyFourKiB = Array.from({ length: 64 * 1024 }, (_, index) =>
  String.fromCharCode(33 + ((index * 7_919 + (index >> 7) * 31) % 94)),
).join('');

/**
 * Strings that every backend must store and give back unchanged, by label: emoji (astral
 * characters, surrogate pairs), right-to-left marks and overrides, combining marks, a key of
 * exactly `maxKeyBytes` UTF-8 bytes. Conformance suites use them as keys, ids, topics, headers
 * and payloads.
 */
export const storableTexts: Readonly<Record<string, string>> = {
  emoji: 'cart-🛒-📦-👩🏽‍💻',
  'right-to-left marks': 'order-\u200f\u202eשלום\u202c-\u061cمرحبا',
  'combining marks': 'e\u0301-\u00e9-z\u0336\u0335',
  'longest key': `${'k'.repeat(maxKeyBytes - 4)}🛒`,
};

/**
 * Strings that no store may take as a key, id, topic or group: a NUL character (PostgreSQL
 * `text` and `jsonb` refuse it), lone UTF-16 surrogates (no UTF-8 form: the drivers would turn
 * them into U+FFFD), and a 64 KiB key (past every backend's index and name limits). Stores must
 * refuse them before any write with an `INVALID_VALUE` error.
 */
export const unstorableKeys: Readonly<Record<string, string>> = {
  'a NUL character': 'te\u0000nt',
  'a lone high surrogate': 'key-\ud83d-end',
  'a lone low surrogate': '\ude00-key',
  'a 64 KiB key': sixtyFourKiB,
};

/** Text that may not appear anywhere in a stored JSON value or text column (no 64 KiB case). */
export const unstorableTexts: Readonly<Record<string, string>> = {
  'a NUL character': 'hi\u0000there',
  'a lone high surrogate': 'key-\ud83d-end',
  'a lone low surrogate': '\ude00-key',
};

/** 64 KiB of text with emoji and right-to-left marks, which every payload must carry unchanged. */
export const largeStorableText: string = `${'🛒\u200fשלום'.repeat(4_096)}${sixtyFourKiB}`;
