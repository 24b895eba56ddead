// Serves the single-page app built into web/dist: its files, and index.html for every page path
// a browser asks for (/, /cart, /orders/…, /ops). API and unknown non-page requests keep their
// problem+json 404.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Whether a request is a browser asking for a page (not the API or an asset). */
export const wantsPage = (request: FastifyRequest): boolean =>
  request.method === 'GET' && (request.headers.accept ?? '').includes('text/html') && !request.url.startsWith('/api/');

export async function registerWebPage(
  app: FastifyInstance,
): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined> {
  if (!existsSync(`${webRoot}/index.html`)) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><title>simple-eshop</title><p>The web page is not built: run <code>pnpm --filter simple-eshop build:web</code> (pnpm dev does).</p>',
        ),
    );
    return () => undefined;
  }
  await app.register(fastifyStatic, {
    root: webRoot,
    wildcard: false,
    index: 'index.html',
    maxAge: '1h',
    schemaHide: true,
  });
  return (request, reply) => (wantsPage(request) ? reply.type('text/html').sendFile('index.html') : undefined);
}
