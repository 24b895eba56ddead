// Errors as RFC 9457 application/problem+json bodies that say what is wrong; never a bare 500
// for bad input.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../infrastructure/database-unavailable.js';

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** An error that becomes a problem response with its status. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({ type: 'about:blank', ...problem });
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

export function registerProblemHandlers(
  app: FastifyInstance,
  /** Answers requests no route matched before the 404 problem, e.g. with the web page. */
  fallback?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined,
): void {
  app.setNotFoundHandler((request, reply) => {
    const answered = fallback?.(request, reply);
    if (answered) return answered;
    return sendProblem(reply, { title: 'Not Found', status: 404, detail: `No route ${request.method} ${request.url}` });
  });
  app.setErrorHandler((error: FastifyError | HttpProblem, request, reply) => {
    if (error instanceof HttpProblem) {
      const retryAfter = error.extensions.retryAfterSeconds;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      return sendProblem(reply, {
        title: error.title,
        status: error.status,
        detail: error.message,
        ...error.extensions,
      });
    }
    if (error.validation) {
      return sendProblem(reply, {
        title: 'Bad Request',
        status: 400,
        detail: `${error.validationContext ?? 'request'} ${error.validation.map((issue) => `${issue.instancePath || '/'} ${issue.message}`).join('; ')}`,
      });
    }
    // A value a Bulwark adapter refused before writing (empty, too long, a NUL): the input was bad.
    if ((error as { code?: unknown }).code === 'INVALID_VALUE') {
      return sendProblem(reply, { title: 'Bad Request', status: 400, detail: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, { title: titles[status] ?? 'Bad Request', status, detail: error.message });
    }
    // The database restarting or a connection cut: the request may well succeed in a moment.
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('retry-after', '1');
      return sendProblem(reply, {
        title: 'Service Unavailable',
        status: 503,
        detail: 'The database is unavailable; retry shortly.',
      });
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, {
      title: 'Internal Server Error',
      status: 500,
      detail: 'The server could not complete the request.',
    });
  });
}
