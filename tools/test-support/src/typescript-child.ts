// A TypeScript child process for a fault test (an orchestrator, a participant that the test
// SIGKILLs): node with tsx and the workspace's source condition, as vitest runs the test itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const register = join(dirname(fileURLToPath(import.meta.url)), '../../assets/register.mjs');

/** A started child; it prints `ready` on stdout once it is working. */
export interface TypeScriptChild {
  readonly child: ChildProcess;
  /** Resolves when the child printed `ready`; rejects with its stderr when it exited before. */
  readonly ready: Promise<void>;
  /** Resolves when the child exited, however. */
  readonly exited: Promise<void>;
  /** What the child wrote to stderr so far. */
  errors(): string;
}

/** Starts `script` (a .ts file) with `env` added to this process's environment, in the script's folder. */
export function startTypeScriptChild(script: string, env: Record<string, string>): TypeScriptChild {
  const child = spawn(
    process.execPath,
    ['--conditions=@bulwark/source', '--import', 'tsx', '--import', register, script],
    {
      cwd: dirname(script),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${basename(script)} exited (${code}) before ready: ${errors}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, ready, exited, errors: () => errors };
}
