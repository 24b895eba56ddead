import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consecutive } from '@bulwark/resilience';
import { resilientFetch } from '@bulwark/resilience/http';

// A flaky service: the first request is refused with 503 and a Retry-After, the next ones succeed.
let requests = 0;
const service = createServer((_request, response) => {
  requests += 1;
  if (requests === 1) response.writeHead(503, { 'retry-after': '0' }).end('busy');
  else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 42 }));
});
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;

// The standard pipeline: total timeout → retry → breaker per origin → attempt timeout.
const http = resilientFetch({
  totalTimeoutMs: 10_000,
  retry: { maxAttempts: 3 },
  circuitBreaker: { strategy: consecutive(5), halfOpenAfter: 5_000 },
  attemptTimeoutMs: 2_000,
});
http.onRetry(({ method, attempt, delayMs, error }) =>
  console.log(
    `${method} retried (attempt ${attempt} in ${delayMs} ms) after ${(error as Error).message.replace(origin, '')}`,
  ),
);

// Used like fetch: a GET is retried by itself.
const order = await http(`${origin}/orders/42`);
console.log(order.status, await order.json());

// A POST without an Idempotency-Key is sent once, whatever happens.
const created = await http(`${origin}/orders`, { method: 'POST', body: JSON.stringify({ item: 'book' }) });
console.log(`POST ${created.status}`);

console.log(http.snapshot().endpoints.map(({ circuit }) => `${circuit?.state} after ${circuit?.calls} calls`));
service.close();
// GET retried (attempt 2 in 0 ms) after GET /orders/42 answered 503 Service Unavailable
// 200 { id: 42 }
// POST 200
// [ 'closed after 3 calls' ]
