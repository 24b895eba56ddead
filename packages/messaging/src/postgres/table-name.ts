import { InvalidOptionsError } from '@bulwark/resilience';

/** A table name an adapter was given, checked and quoted for its SQL. */
export interface TableName {
  /** `"schema"."name"` or `"name"`, safe to put in SQL. */
  readonly quoted: string;
  /** The unqualified name, from which index, trigger and channel names are made. */
  readonly name: string;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** Whether `name` is a plain SQL identifier (what may be put unquoted in SQL, e.g. a channel). */
export const isSqlIdentifier = (name: string): boolean => identifier.test(name);

/**
 * Checks `table` (an identifier or `schema.identifier`; names are interpolated into SQL, so
 * nothing else is accepted) and quotes it. Problems are pushed to `problems` when given, else
 * thrown as one {@link InvalidOptionsError} of `adapter`.
 */
export function tableName(
  adapter: string,
  table: string,
  options: { option?: string; problems?: string[] } = {},
): TableName {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => identifier.test(part))) {
    const problem = `${options.option ?? 'table'} must be an identifier or schema.identifier of letters, digits, _ and $, got "${table}"`;
    if (!options.problems) throw new InvalidOptionsError(adapter, [problem]);
    options.problems.push(problem);
  }
  return { quoted: parts.map((part) => `"${part}"`).join('.'), name: parts[parts.length - 1] as string };
}
