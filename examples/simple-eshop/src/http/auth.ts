// JWT sessions: `authenticate` for any signed-in user, `requireAdmin` for the ops endpoints.
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.js';

export interface SessionUser {
  sub: string;
  username: string;
  role: 'customer' | 'admin';
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: SessionUser;
    user: SessionUser;
  }
}

export const sessionTtlSeconds = 60 * 60 * 8;

export async function registerAuth(app: FastifyInstance, secret: string): Promise<void> {
  await app.register(jwt, { secret, sign: { expiresIn: sessionTtlSeconds } });
}

export async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  try {
    await request.jwtVerify();
  } catch (error) {
    throw new HttpProblem(401, 'Unauthorized', 'A valid bearer token is required (POST /api/sessions to get one).', {
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

export async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await authenticate(request, reply);
  if (request.user.role !== 'admin') throw new HttpProblem(403, 'Forbidden', 'This endpoint needs the admin role.');
}
