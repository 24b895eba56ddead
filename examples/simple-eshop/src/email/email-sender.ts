// The email provider: a development mailbox (GET /ops/mail) with switchable faults, or SMTP
// through nodemailer when SMTP_URL is set.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { applyFaults, type Faults } from '../faults/faults.js';

export interface Email {
  /** Unique per logical email: sending the same id twice delivers it once. */
  messageId: string;
  to: string;
  subject: string;
  text: string;
  attachments?: Array<{ filename: string; contentType: string; content: string }>;
}

export interface EmailSender {
  send(email: Email, signal?: AbortSignal): Promise<void>;
}

export interface MailboxEntry {
  id: string;
  messageId: string;
  to: string;
  subject: string;
  body: string;
  attachments: Array<{ filename: string; contentType: string; bytes: number }>;
  sentAt: string;
}

/** Delivers into the shop_mail table, once per messageId. */
export function mailboxSender(pool: pg.Pool, faults: Faults): EmailSender {
  return {
    async send(email, signal) {
      await applyFaults(await faults.get('email'), 'email provider', signal);
      await pool.query(
        `INSERT INTO shop_mail (id, message_id, recipient, subject, body, attachments) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (message_id) DO NOTHING`,
        [
          randomUUID(),
          email.messageId,
          email.to,
          email.subject,
          email.text,
          JSON.stringify(
            (email.attachments ?? []).map((file) => ({
              filename: file.filename,
              contentType: file.contentType,
              bytes: file.content.length,
            })),
          ),
        ],
      );
    },
  };
}

export async function listMailbox(
  pool: pg.Pool,
  options: { to?: string; limit?: number } = {},
): Promise<MailboxEntry[]> {
  const { rows } = await pool.query<MailboxEntry>(
    `SELECT id, message_id AS "messageId", recipient AS "to", subject, body, attachments, sent_at AS "sentAt"
       FROM shop_mail WHERE ($1::text IS NULL OR recipient = $1) ORDER BY sent_at DESC LIMIT $2`,
    [options.to ?? null, options.limit ?? 100],
  );
  return rows;
}

/** Sends through an SMTP server (SMTP_URL, e.g. smtp://user:pass@mail.example.com:587). */
export async function smtpSender(smtpUrl: string, from = 'simple-eshop <shop@localhost>'): Promise<EmailSender> {
  const { createTransport } = await import('nodemailer');
  const transport = createTransport(smtpUrl);
  return {
    async send(email) {
      await transport.sendMail({
        from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        messageId: `<${email.messageId}@simple-eshop>`,
        attachments: (email.attachments ?? []).map((file) => ({
          filename: file.filename,
          contentType: file.contentType,
          content: file.content,
        })),
      });
    },
  };
}
