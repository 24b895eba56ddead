import { randomUUID } from 'node:crypto';
import { withTransaction } from '@bulwark/resilience/postgres';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { sessionTtlSeconds } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';
import { hashPassword, verifyPassword } from './passwords.js';

export interface RegisteredUser {
  id: string;
  username: string;
  email: string;
}

export interface UsersOptions {
  pool: pg.Pool;
  /** Runs inside the registration transaction, e.g. to add a welcome-email event to the outbox. */
  onRegistered?: (client: pg.PoolClient, user: RegisteredUser) => Promise<void>;
  /** Throws an HttpProblem (429) when login attempts for this email or IP are over the limit. */
  limitLogin?: (attempt: { email: string; ip: string }) => Promise<void>;
  /** Called after a failed or successful login, e.g. to reset a limiter. */
  onLoginResult?: (attempt: { email: string; ip: string; succeeded: boolean }) => Promise<void>;
}

const User = Type.Object({ id: Type.String(), username: Type.String(), email: Type.String() });
const Registration = Type.Object(
  {
    username: Type.String({ minLength: 3, maxLength: 32, pattern: '^[a-zA-Z0-9_.-]+$' }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ minLength: 8, maxLength: 128 }),
  },
  { additionalProperties: false },
);
const Credentials = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

export const usersRoutes: FastifyPluginAsyncTypebox<UsersOptions> = async (app, options) => {
  const { pool } = options;

  app.post(
    '/api/users',
    { schema: { tags: ['users'], summary: 'Register', body: Registration, response: { 201: User } } },
    async (request, reply) => {
      const { username, password } = request.body;
      const email = request.body.email.toLowerCase();
      const user: RegisteredUser = { id: randomUUID(), username, email };
      const passwordHash = await hashPassword(password);
      try {
        await withTransaction(pool, async (client) => {
          await client.query('INSERT INTO shop_users (id, username, email, password_hash) VALUES ($1, $2, $3, $4)', [
            user.id,
            username,
            email,
            passwordHash,
          ]);
          await options.onRegistered?.(client, user);
        });
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new HttpProblem(409, 'Conflict', 'That username or email is already registered.');
        }
        throw error;
      }
      return reply.code(201).send(user);
    },
  );

  app.post(
    '/api/sessions',
    {
      schema: {
        tags: ['users'],
        summary: 'Log in',
        body: Credentials,
        response: { 201: Type.Object({ token: Type.String(), expiresAt: Type.String(), user: User }) },
      },
    },
    async (request, reply) => {
      const email = request.body.email.toLowerCase();
      const attempt = { email, ip: request.ip };
      await options.limitLogin?.(attempt);
      const { rows } = await pool.query<{
        id: string;
        username: string;
        password_hash: string;
        role: 'customer' | 'admin';
      }>('SELECT id, username, password_hash, role FROM shop_users WHERE email = $1', [email]);
      const found = rows[0];
      const succeeded = found ? await verifyPassword(found.password_hash, request.body.password) : false;
      await options.onLoginResult?.({ ...attempt, succeeded });
      if (!found || !succeeded) throw new HttpProblem(401, 'Unauthorized', 'Wrong email or password.');
      const token = await reply.jwtSign({ sub: found.id, username: found.username, role: found.role });
      const expiresAt = new Date(Date.now() + sessionTtlSeconds * 1000).toISOString();
      return reply.code(201).send({ token, expiresAt, user: { id: found.id, username: found.username, email } });
    },
  );
};

/** Creates the admin account on first start (ADMIN_EMAIL / ADMIN_PASSWORD or the dev defaults). */
export async function ensureAdmin(pool: pg.Pool, email: string, password: string): Promise<void> {
  const { rowCount } = await pool.query('SELECT 1 FROM shop_users WHERE email = $1', [email]);
  if (rowCount) return;
  await pool.query(
    `INSERT INTO shop_users (id, username, email, password_hash, role) VALUES ($1, 'admin', $2, $3, 'admin')
     ON CONFLICT DO NOTHING`,
    [randomUUID(), email, await hashPassword(password)],
  );
}
