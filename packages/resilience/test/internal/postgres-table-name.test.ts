import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { postgresTableName } from '../../src/internal/postgres/postgres-table-name.js';

const plainPart = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_$]{0,20}$/);
// Any text but NUL, written double-quoted with "" for a quote.
const quotedText = fc.string({ minLength: 1, maxLength: 20 }).filter((text) => !text.includes('\u0000'));
const quote = (text: string) => `"${text.replaceAll('"', '""')}"`;

describe('postgresTableName', () => {
  it('quotes plain names as written (case kept) and qualifies by schema', () => {
    const problems: string[] = [];
    expect(postgresTableName('Orders', problems)).toMatchObject({
      quoted: '"Orders"',
      name: 'Orders',
      schema: undefined,
    });
    const qualified = postgresTableName('app.orders', problems);
    expect(qualified).toMatchObject({ quoted: '"app"."orders"', name: 'orders', schema: 'app' });
    expect(qualified.sibling('_groups')).toBe('"app"."orders_groups"');
    expect(qualified.suffixed('_idx')).toBe('"orders_idx"');
    expect(problems).toEqual([]);
  });

  it('takes double-quoted parts, with "" for a quote', () => {
    const problems: string[] = [];
    const table = postgresTableName('"Sales Dept"."order ""outbox"""', problems);
    expect(table).toMatchObject({
      quoted: '"Sales Dept"."order ""outbox"""',
      name: 'order "outbox"',
      schema: 'Sales Dept',
    });
    expect(table.suffixed('_relay')).toBe('"order ""outbox""_relay"');
    expect(problems).toEqual([]);
  });

  it('refuses anything else, naming the option', () => {
    for (const bad of [
      '',
      'a.b.c',
      'x"; DROP TABLE users; --',
      '1abc',
      'a b',
      '"unterminated',
      '""',
      'a.',
      undefined,
      42,
    ]) {
      const problems: string[] = [];
      postgresTableName(bad, problems, { option: 'groupsTable' });
      expect(problems, String(bad)).toHaveLength(1);
      expect(problems[0]).toMatch(/^groupsTable must be an identifier or schema\.identifier/);
    }
  });

  it('refuses names longer than maxNameBytes, counted in UTF-8 bytes', () => {
    const problems: string[] = [];
    postgresTableName(`"${'é'.repeat(29)}"`, problems, { maxNameBytes: 56 });
    expect(problems).toEqual([expect.stringMatching(/at most 56 bytes/)]);
    expect(postgresTableName('a'.repeat(56), [], { maxNameBytes: 56 }).name).toHaveLength(56);
  });

  it('property: every accepted name quotes back to itself, part by part', () => {
    const part = fc.oneof(plainPart, quotedText.map(quote));
    fc.assert(
      fc.property(fc.option(part, { nil: undefined }), part, (schema, name) => {
        const written = schema === undefined ? name : `${schema}.${name}`;
        const problems: string[] = [];
        const table = postgresTableName(written, problems, { maxNameBytes: 1_000 });
        expect(problems).toEqual([]);
        const requote = (text: string) => (text.startsWith('"') ? text : quote(text));
        expect(table.quoted).toBe(schema === undefined ? requote(name) : `${requote(schema)}.${requote(name)}`);
      }),
    );
  });

  it('property: a name with a character outside the rule and no quotes is refused', () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1 })
          .filter((text) => !/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(text) && !text.includes('"')),
        (text) => {
          const problems: string[] = [];
          postgresTableName(text, problems);
          expect(problems).toHaveLength(1);
        },
      ),
    );
  });
});
