import { InvalidOptionsError } from '@bulwark/resilience';
import {
  type PostgresTableName,
  type PostgresTableNameCheck,
  postgresTableName,
} from '@bulwark/resilience/internal/postgres';

export { isPlainPostgresIdentifier as isSqlIdentifier } from '@bulwark/resilience/internal/postgres';

/**
 * Checks `table` by the one PostgreSQL naming rule (`postgresTableName`: `name` or
 * `schema.name`, parts plain or double-quoted) and quotes it. Problems are pushed to `problems`
 * when given, else thrown as one {@link InvalidOptionsError} of `adapter`.
 */
export function tableName(
  adapter: string,
  table: unknown,
  options: PostgresTableNameCheck & { problems?: string[] } = {},
): PostgresTableName {
  const problems = options.problems ?? [];
  const name = postgresTableName(table, problems, options);
  if (!options.problems && problems.length > 0) throw new InvalidOptionsError(adapter, problems);
  return name;
}
