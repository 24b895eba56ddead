// A request in flight when the server starts closing was routed before Fastify marked it closing,
// so its response keeps the connection alive, and `close()` then waits for that idle connection
// until keepAliveTimeout (72 s in Fastify): longer than a deployment's grace period, and the
// process looks hung. Fastify closes only the connections idle at the moment close starts.
import type { FastifyInstance } from 'fastify';

/**
 * Makes every response sent after `app.close()` began say `Connection: close`, so the connections
 * of requests in flight end with their responses and `close()` returns once they are answered.
 */
export function closeKeepAliveOnClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
}
