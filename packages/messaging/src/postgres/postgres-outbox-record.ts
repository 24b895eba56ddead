import type { Envelope } from '../envelope/envelope.js';
import {
  type JsonEnvelope,
  type JsonEnvelopeFields,
  parseJsonEnvelope,
  trustedJsonEnvelope,
} from '../envelope/json-envelope.js';
import type { OutboxRecord } from '../outbox/outbox.js';
import { jsonbTextForDoubles } from './jsonb-numbers.js';

/** The columns of a row the relay reads (outbox-claim*.sql). */
export interface OutboxClaimRow {
  readonly position: string;
  /** `envelope::text`: the stored envelope as PostgreSQL writes jsonb out. */
  readonly json: string;
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly type: string;
  readonly group_id: string | null;
  readonly correlation_id: string | null;
  readonly age_ms: number;
  readonly partition?: number;
}

/**
 * A row read by the relay. The envelope stays the JSON text it was read as: a transport with
 * `publishJson` sends it as it is, and `message` parses it only when something asks for the
 * envelope itself (a claim check, a transport without `publishJson`, tracing), once. The text is
 * trusted without parsing it here: PostgreSQL parsed it into `jsonb`, and `outbox.add` checked the
 * envelope and wrote the columns beside it from the same envelope.
 */
export class PostgresOutboxRecord implements OutboxRecord {
  readonly position: string;
  readonly json: JsonEnvelope;
  readonly partition?: number;
  private parsed: Envelope | undefined;

  constructor(row: OutboxClaimRow) {
    this.position = row.position;
    const json: { -readonly [Field in keyof JsonEnvelopeFields]: JsonEnvelopeFields[Field] } = {
      json: jsonbTextForDoubles(row.json),
      id: row.id,
      topic: row.topic,
      type: row.type,
    };
    if (row.key !== null) json.key = row.key;
    if (row.group_id !== null) json.groupId = row.group_id;
    if (row.correlation_id !== null) json.correlationId = row.correlation_id;
    this.json = trustedJsonEnvelope(json);
    if (row.partition !== undefined) this.partition = row.partition;
  }

  get message(): Envelope {
    this.parsed ??= parseJsonEnvelope(this.json);
    return this.parsed;
  }
}
