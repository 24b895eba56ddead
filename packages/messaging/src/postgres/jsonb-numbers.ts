// jsonb keeps numbers as PostgreSQL numeric, of any size: SQL written by hand can store 1e400 in
// the outbox (outbox.add cannot: JSON.stringify writes no number past a double's range). Sent as
// it is, such text would give consumers Infinity (or -0 for -1e-400), where `publish` of the
// parsed envelope gives null (or 0). The relay sends the second on every path.

/**
 * Digits a number must have in jsonb's text (which writes every digit, never an exponent) before
 * `JSON.parse` turns it into ±Infinity (309 before the point: 1.8e308) or ±0 (324 or more after it).
 */
const longestSafeDigitRun = 308;

/**
 * `text` (a `jsonb` value as PostgreSQL writes it out) as consumers read it through `publish`:
 * unchanged, unless it holds a number that `JSON.parse` cannot keep; then `JSON.stringify` of what
 * `JSON.parse` reads (`1e400` becomes `null`, `-1e-400` becomes `0`). Reads one character in 309
 * where there is no digit, so that the relay's path stays as fast.
 */
export function jsonbTextForDoubles(text: string): string {
  return hasDigitRun(text, longestSafeDigitRun + 1) ? JSON.stringify(JSON.parse(text)) : text;
}

/**
 * Whether `text` holds `length` ASCII digits in a row. Any such run covers one of the indices
 * `length - 1`, `2 * length - 1`, …: only the runs through those are measured.
 */
function hasDigitRun(text: string, length: number): boolean {
  for (let index = length - 1; index < text.length; index += length) {
    if (!isDigit(text.charCodeAt(index))) continue;
    let start = index;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
    let end = index + 1;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    if (end - start >= length) return true;
  }
  return false;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
