// One check at the edge for every route: text the database cannot hold unchanged (a NUL
// character, which PostgreSQL `text` and `jsonb` refuse; a lone UTF-16 surrogate, which has no
// UTF-8 form) is answered with a 400 problem naming the field, before any handler runs — in path
// parameters, the query string and the body alike.
import { jsonTextProblem } from '@bulwark/resilience';
import type { FastifyInstance } from 'fastify';
import { HttpProblem } from './problem.js';

const parts = ['params', 'query', 'body'] as const;

export function registerStorableInput(app: FastifyInstance): void {
  // preValidation runs once the body is parsed and before schema validation, so routes without a
  // schema are covered too.
  app.addHook('preValidation', async (request) => {
    for (const part of parts) {
      const found = jsonTextProblem(request[part]);
      if (!found) continue;
      const field = `${part}${found.path.slice(1)}`;
      throw new HttpProblem(400, 'Bad Request', `${field} ${found.problem}; it cannot be stored.`, {
        field,
      });
    }
  });
}
