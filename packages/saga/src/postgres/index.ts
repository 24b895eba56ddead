/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.
export {};
