// `pnpm docs:serve`: serves the built site (docs/dist) on http://127.0.0.1:$PORT (default 4173).
// Also imported by the browser test, which starts it on a free port.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sirv from 'sirv';

export const distDir = join(import.meta.dirname, 'dist');

/**
 * Starts a static server for `dir`; resolves with its URL and a close function.
 * @param {{ port?: number, host?: string, dir?: string }} [options]
 */
export async function serveDocs({ port = 4173, host = '127.0.0.1', dir = distDir } = {}) {
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`${dir} has no index.html: run \`pnpm run docs\` first`);
  const assets = sirv(dir, { dev: false, etag: true });
  const server = createServer((request, response) =>
    assets(request, response, () => {
      response.statusCode = 404;
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      response.end('Not found');
    }),
  );
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const url = `http://${host}:${typeof address === 'object' && address ? address.port : port}`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve(undefined))) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { url, close } = await serveDocs({ port: Number(process.env.PORT ?? 4173) });
  console.log(`Bulwark docs on ${url}/`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void close().then(() => process.exit(0)));
}
