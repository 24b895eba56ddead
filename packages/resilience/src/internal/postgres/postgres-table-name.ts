/** A table name an adapter was given (`name` or `schema.name`), checked and quoted for its SQL. */
export interface PostgresTableName {
  /** `"schema"."name"` or `"name"`, safe to put in SQL. */
  readonly quoted: string;
  /** The schema as PostgreSQL stores it (unquoted), or undefined for the connection's `search_path`. */
  readonly schema: string | undefined;
  /** The unqualified name as PostgreSQL stores it (unquoted), from which related names are made. */
  readonly name: string;
  /** The name as the user wrote it, for messages and lock names. */
  readonly written: string;
  /** A quoted unqualified identifier made from the name, e.g. `suffixed('_idx')` is `"orders_idx"` (indexes, triggers). */
  suffixed(suffix: string): string;
  /** A quoted identifier in the same schema, e.g. `sibling('_groups')` is `"app"."orders_groups"` (related tables). */
  sibling(suffix: string): string;
}

/** How {@link postgresTableName} checks a name. */
export interface PostgresTableNameCheck {
  /** The option the name came from, named in the problem. @defaultValue `'table'` */
  readonly option?: string;
  /** Most bytes of the unqualified name, leaving room for the suffixes of related names. @defaultValue 63 */
  readonly maxNameBytes?: number;
}

// A part is a plain identifier (taken as written, case kept) or a double-quoted one ("" is a quote).
const plain = '[A-Za-z_][A-Za-z0-9_$]*';
const quotedPart = '"(?:[^"\\u0000]|"")+"';
const pattern = new RegExp(`^(${plain}|${quotedPart})(?:\\.(${plain}|${quotedPart}))?$`);

const unquote = (part: string): string => (part.startsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part);

/** Quotes one identifier for SQL. */
export const quotePostgresIdentifier = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

/** Whether `name` is a plain SQL identifier (what may be put unquoted in SQL, e.g. a channel). */
export const isPlainPostgresIdentifier = (name: string): boolean => new RegExp(`^${plain}$`).test(name);

/**
 * The one rule for PostgreSQL table names in Bulwark: `table` is `name` or `schema.name`, each
 * part a plain identifier (letters, digits, `_`, `$`; case kept, as if quoted) or a double-quoted
 * one, each at most 63 bytes (the unqualified name at most `maxNameBytes`). Names are put into
 * SQL, so nothing else is accepted. A problem is pushed to `problems`, for the adapter to throw
 * as its typed invalid-options error, and the result then must not be used.
 */
export function postgresTableName(
  table: unknown,
  problems: string[],
  check: PostgresTableNameCheck = {},
): PostgresTableName {
  const option = check.option ?? 'table';
  const maxNameBytes = check.maxNameBytes ?? 63;
  const match = typeof table === 'string' ? pattern.exec(table) : null;
  const parts = match ? [match[1], match[2]].filter((part): part is string => part !== undefined).map(unquote) : [];
  const name = parts[parts.length - 1] ?? '';
  const schema = parts.length === 2 ? parts[0] : undefined;
  if (!match) {
    problems.push(
      `${option} must be an identifier or schema.identifier, each of letters, digits, _ and $ or double-quoted, got ${JSON.stringify(table)}`,
    );
  } else if (Buffer.byteLength(name) > maxNameBytes || (schema !== undefined && Buffer.byteLength(schema) > 63)) {
    problems.push(
      `${option} must have a name of at most ${maxNameBytes} bytes and a schema of at most 63, got ${JSON.stringify(table)}`,
    );
  }
  const qualify = (identifier: string) =>
    schema === undefined
      ? quotePostgresIdentifier(identifier)
      : `${quotePostgresIdentifier(schema)}.${quotePostgresIdentifier(identifier)}`;
  return {
    quoted: qualify(name),
    schema,
    name,
    written: typeof table === 'string' ? table : String(table),
    suffixed: (suffix) => quotePostgresIdentifier(name + suffix),
    sibling: (suffix) => qualify(name + suffix),
  };
}
