import fc from 'fast-check';
import { expect, it } from 'vitest';
import { jsonbTextForDoubles } from '../../src/postgres/jsonb-numbers.js';

/** A number as jsonb writes it out: every digit, no exponent; some past a double's range, some near it. */
const jsonbNumber = fc
  .tuple(
    fc.boolean(),
    fc.oneof(
      fc.constant(''),
      fc.stringMatching(/^[1-9][0-9]{0,20}$/),
      fc.integer({ min: 300, max: 420 }).map((n) => `1${'0'.repeat(n)}`),
    ),
    fc.oneof(
      fc.constant(''),
      fc.integer({ min: 0, max: 420 }).map((zeros) => `${'0'.repeat(zeros)}25`),
    ),
  )
  // jsonb writes no -0: numeric zero has no sign.
  .map(
    ([negative, whole, fraction]) =>
      `${negative && (whole || fraction) ? '-' : ''}${whole || '0'}${fraction ? `.${fraction}` : ''}`,
  );

/** jsonb text of an object holding such numbers, and strings of digits (which only look like them). */
const jsonbText = fc
  .array(
    fc.oneof(
      jsonbNumber,
      jsonbNumber.map((number) => JSON.stringify(number)),
    ),
    { maxLength: 6 },
  )
  .map((values) => `{${values.map((value, index) => `"n${index}": ${value}`).join(', ')}}`);

it('reads jsonb text as publish of the parsed value sends it, and leaves text with no number past a double alone', () => {
  fc.assert(
    fc.property(jsonbText, (text) => {
      const sent = jsonbTextForDoubles(text);
      expect(JSON.parse(sent)).toEqual(JSON.parse(JSON.stringify(JSON.parse(text))));
      if (!/[0-9]{309}/.test(text)) expect(sent).toBe(text);
    }),
    { numRuns: 3_000 },
  );
});
