import { OptionsValidator } from '@bulwark/resilience';
import { postgresTransportDefaults } from './postgres-transport-options.js';
import ackSql from './sql/transport-ack.sql';
import adoptHeldSql from './sql/transport-adopt-held.sql';
import claimSql from './sql/transport-claim.sql';
import declareGroupSql from './sql/transport-declare-group.sql';
import migrateSql from './sql/transport-migrate.sql';
import nackSql from './sql/transport-nack.sql';
import notifySql from './sql/transport-notify.sql';
import publishSql from './sql/transport-publish.sql';
import publishOneSql from './sql/transport-publish-one.sql';
import publishOneBlockedSql from './sql/transport-publish-one-blocked.sql';
import statsSql from './sql/transport-stats.sql';
import unblockSql from './sql/transport-unblock.sql';
import { tableName } from './table-name.js';

/** A fragment of SQL without its header comment, to go inside a statement. */
const withoutComments = (sql: string) => sql.replace(/^--.*\n/gm, '').trim();

/** The SQL of the PostgreSQL transport, rendered for one table. */
export interface PostgresTransportSql {
  /** Creates the tables and indexes if missing (for your own migration tool). */
  readonly migrate: string;
  readonly declareGroup: string;
  readonly adoptHeld: string;
  readonly publish: string;
  /** `publish` for one message without an ordering key, with scalar parameters (one generic plan on the server). */
  readonly publishOne: string;
  /** `publish` for one message with an ordering key, with scalar parameters (one generic plan on the server). */
  readonly publishOneKeyed: string;
  readonly claim: string;
  readonly ack: string;
  readonly nack: string;
  readonly notify: string;
  readonly unblock: string;
  readonly stats: string;
}

/**
 * The statements of `postgresTransport` for a table, so teams with their own migration tool
 * can apply `migrate` themselves.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/008_messages.sql', postgresTransportSql({ table: 'app.messages' }).migrate);
 * ```
 */
export function postgresTransportSql(options: { table?: string; groupsTable?: string } = {}): PostgresTransportSql {
  const validator = new OptionsValidator('postgresTransport');
  const table = tableName('postgresTransport', options.table ?? postgresTransportDefaults.table, {
    problems: validator.problems,
  });
  const groups =
    options.groupsTable === undefined
      ? { quoted: table.sibling('_groups') }
      : tableName('postgresTransport', options.groupsTable, { option: 'groupsTable', problems: validator.problems });
  validator.throwIfInvalid();
  const render = (sql: string) =>
    sql
      .replaceAll('{{table}}', table.quoted)
      .replaceAll('{{groupsTable}}', groups.quoted)
      .replaceAll('{{claimIndex}}', table.suffixed('_claim_idx'))
      .replaceAll('{{keyIndex}}', table.suffixed('_key_idx'))
      .replaceAll('{{blockedIndex}}', table.suffixed('_blocked_idx'));
  return {
    migrate: render(migrateSql),
    declareGroup: render(declareGroupSql),
    adoptHeld: render(adoptHeldSql),
    publish: render(publishSql),
    publishOne: render(publishOneSql.replace('{{blocked}}', 'false')),
    publishOneKeyed: render(publishOneSql.replace('{{blocked}}', withoutComments(publishOneBlockedSql))),
    claim: render(claimSql),
    ack: render(ackSql),
    nack: render(nackSql),
    notify: render(notifySql),
    unblock: render(unblockSql),
    stats: render(statsSql),
  };
}
