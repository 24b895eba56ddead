// A GET against a local node:http server (keep-alive, 2-byte body), the body read in full, through:
//   plain fetch            Node's global fetch (undici), no policy: the floor
//   fetch + AbortSignal.timeout  the same with a 10 s timeout signal, what any timeout costs undici
//   bulwark resilientFetch the standard pipeline with its defaults: total timeout 30 s → retry
//                          (3 attempts, idempotent methods, Retry-After) → breaker per origin
//                          (failureRate) → attempt timeout 10 s, over the same global fetch
//   undici request         undici 7's request() over its own Agent, no policy: the floor of the
//                          dispatcher API
//   bulwark resilientInterceptor  the same request() through an Agent composed with
//                          resilientInterceptor() (the same standard pipeline, at the dispatcher)
//   ky                     ky 1.x over the same global fetch, retry limit 2 (3 attempts) on GET
//                          for 408/413/429/5xx, timeout 10 s per attempt
//   got                    got 14 over node:http with a keep-alive agent, retry limit 2 on GET
//                          for the same statuses, timeout 10 s per attempt (its own transport, so
//                          its added cost includes the difference between node:http and undici)
// Sequential: one caller. The figure is CPU time per request (user + system of this process,
// which also runs the server, the same for every subject), not wall time: on a shared, loaded
// machine wall time per local request swings by milliseconds, while the CPU a client spends per
// request is what its overhead is. `added` is over plain fetch.
// `resilience.http.pipeline` runs resilientFetch and ky over a fetch that answers at once (no
// socket; got has no such hook): the pure cost each adds per request, much less noisy.
import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resilientFetch } from '@bulwark/resilience/http';
import { resilientInterceptor } from '@bulwark/resilience/undici';
import got from 'got';
import ky from 'ky';
import { Agent as UndiciAgent, request as undiciRequest } from 'undici';
import type { BenchmarkDefinition, Subject, SubjectResult } from '../harness.js';

let server: Server | undefined;
let url = '';
const transient = [408, 429, 500, 502, 503, 504];
const operations = 3_000;
const rounds = 7;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/** CPU ns per operation of `subject` over `count` sequential operations. */
async function cpuNsPerOp(subject: Subject, count: number): Promise<number> {
  const before = process.cpuUsage();
  for (let index = 0; index < count; index++) await subject.run();
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1_000) / count;
}

/** Interleaved rounds (the order rotates each round), as the harness does, timed in CPU. */
async function measureCpu(subjects: Record<string, () => Subject>, count = operations): Promise<SubjectResult[]> {
  const names = Object.keys(subjects);
  const made = new Map(names.map((name) => [name, (subjects[name] as () => Subject)()]));
  for (const subject of made.values()) await cpuNsPerOp(subject, count / 5);
  const samples = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < names.length; offset++) {
      const name = names[(round + offset) % names.length] as string;
      samples.get(name)?.push(await cpuNsPerOp(made.get(name) as Subject, count));
    }
  }
  return names.map((subject) => {
    const roundsNsPerOp = samples.get(subject) ?? [];
    const nsPerOp = median(roundsNsPerOp);
    return { subject, nsPerOp, opsPerSecond: 1e9 / nsPerOp, roundsNsPerOp };
  });
}

const subjects: Record<string, () => Subject> = {
  'plain fetch': () => ({ run: () => fetch(url).then((response) => response.arrayBuffer()) }),
  // What a signal alone costs undici: every client with a timeout pays it.
  'fetch + AbortSignal.timeout': () => ({
    run: () => fetch(url, { signal: AbortSignal.timeout(10_000) }).then((response) => response.arrayBuffer()),
  }),
  'bulwark resilientFetch': () => {
    const http = resilientFetch();
    return { run: () => http(url).then((response) => response.arrayBuffer()) };
  },
  'undici request': () => {
    const dispatcher = new UndiciAgent();
    return { run: () => undiciRequest(url, { dispatcher }).then((response) => response.body.arrayBuffer()) };
  },
  'bulwark resilientInterceptor': () => {
    const dispatcher = new UndiciAgent().compose(resilientInterceptor());
    return { run: () => undiciRequest(url, { dispatcher }).then((response) => response.body.arrayBuffer()) };
  },
  ky: () => {
    const client = ky.create({ retry: { limit: 2, methods: ['get'], statusCodes: transient }, timeout: 10_000 });
    return { run: () => client.get(url).arrayBuffer() };
  },
  got: () => {
    const client = got.extend({
      agent: { http: new Agent({ keepAlive: true }) },
      retry: { limit: 2, methods: ['GET'], statusCodes: transient },
      timeout: { request: 10_000 },
      responseType: 'buffer',
    });
    return { run: () => client.get(url).buffer() };
  },
};

/** A fetch answering 200 at once, so only what a client adds around fetch is measured. */
const instantFetch = async (_input: string | URL | Request, _init?: RequestInit): Promise<Response> =>
  new Response('ok', { status: 200 });

/** Never connected to: the instant fetch answers without a socket. */
const instantUrl = 'http://127.0.0.1:9/item';

const instantSubjects: Record<string, () => Subject> = {
  'instant fetch': () => ({ run: () => instantFetch(instantUrl).then((response) => response.arrayBuffer()) }),
  'bulwark resilientFetch': () => {
    const http = resilientFetch({ fetch: instantFetch });
    return { run: () => http(instantUrl).then((response) => response.arrayBuffer()) };
  },
  ky: () => {
    const client = ky.create({
      fetch: instantFetch,
      retry: { limit: 2, methods: ['get'], statusCodes: transient },
      timeout: 10_000,
    });
    return { run: () => client.get(instantUrl).arrayBuffer() };
  },
};

const definitions: BenchmarkDefinition[] = [
  {
    name: 'resilience.http.get',
    description:
      'GET through the standard pipeline vs plain fetch, ky and got with the same retry policy; CPU ns per request',
    mode: { kind: 'op' },
    operations,
    rounds,
    overheadOf: 'plain fetch',
    baseline: 'ky',
    setup: async () => {
      server = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        response.end('ok');
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/item`;
    },
    teardown: async () => {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    },
    subjects,
    measure: () => measureCpu(subjects),
  },
  {
    name: 'resilience.http.pipeline',
    description:
      'the same clients over a fetch that answers at once (no socket): the pure cost of each client per request, CPU ns',
    mode: { kind: 'op' },
    operations: 20_000,
    rounds,
    overheadOf: 'instant fetch',
    baseline: 'ky',
    subjects: instantSubjects,
    measure: () => measureCpu(instantSubjects, 20_000),
  },
];

export default definitions;
