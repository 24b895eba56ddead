// The shop under test runs as a process of its own, as in production: an unhandled 'error'
// kills it, and the chaos run sees that exit instead of dying with it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@bulwark/test-support';

const shopDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ShopProcess {
  readonly url: string;
  readonly pid: number;
  /** Set once the process ended by itself (a crash): its exit code or signal. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The end of what the process wrote (stdout and stderr), for a crash report. */
  outputTail(lines?: number): Promise<string>;
  /** Resolves true once the process ended by itself, false if it still runs after `timeoutMs`. */
  died(timeoutMs: number): Promise<boolean>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
  stop(): Promise<void>;
}

/** Starts `src/main.ts` with `env` and waits until it serves /health/live. */
export async function startShopProcess(env: NodeJS.ProcessEnv, logFile: string): Promise<ShopProcess> {
  const port = await freePort();
  const output = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--conditions=@bulwark/source',
      '--import',
      'tsx',
      '--import',
      join(shopDir, '..', '..', 'tools', 'assets', 'register.mjs'),
      join(shopDir, 'src', 'main.ts'),
    ],
    { cwd: shopDir, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(output, { end: false });
  child.stderr?.pipe(output, { end: false });
  let exit: ShopProcess['exit'];
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) exit = { code, signal };
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const outputTail = async (lines = 40) =>
    (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exit) throw new Error(`the shop exited while starting (${JSON.stringify(exit)}):\n${await outputTail()}`);
    const live = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (live?.ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the shop did not start within 120 s:\n${await outputTail()}`);
    }
    await sleep(200);
  }
  return {
    url,
    pid: child.pid as number,
    get exit() {
      return exit;
    },
    outputTail,
    async died(timeoutMs) {
      await Promise.race([exited, sleep(timeoutMs)]);
      return exit !== undefined;
    },
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      output.end();
    },
  };
}
