// A TypeScript child process for a fault test (an orchestrator, a participant that the test
// SIGKILLs): node with tsx and the workspace's source condition, as vitest runs the test itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const register = join(dirname(fileURLToPath(import.meta.url)), '../../assets/register.mjs');

/** How {@link startTypeScriptChild} runs the script. */
export interface TypeScriptChildOptions {
  /** The script's command-line arguments. @defaultValue none */
  readonly args?: readonly string[];
  /** Added to this process's environment. @defaultValue none */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with each line the child prints on stdout, `ready` included. */
  readonly onLine?: (line: string) => void;
  /**
   * Copies the child's stderr to this process's stderr, each chunk headed `[<label> <pid>]`, so a
   * failing run shows what the child said. @defaultValue not copied (see `errors()`)
   */
  readonly stderrLabel?: string;
  /** Gives the child a stdin pipe (`child.stdin`) instead of none. @defaultValue false */
  readonly stdin?: boolean;
  /**
   * Resolves the workspace's packages to their TypeScript source (the `@bulwark/source` condition);
   * false runs them from their built `dist`, as users run them (a bench on built code).
   * @defaultValue true
   */
  readonly source?: boolean;
}

/** A started child; it prints a `ready` line on stdout once it is working. */
export interface TypeScriptChild {
  readonly child: ChildProcess;
  /** Resolves when the child printed `ready`; rejects with its stderr when it exited before. */
  readonly ready: Promise<void>;
  /** Resolves with the child's exit code (`null` when a signal ended it) once it exited, however. */
  readonly exited: Promise<number | null>;
  /** What the child wrote to stderr so far. */
  errors(): string;
}

/** Starts `script` (a .ts file) in the script's folder. */
export function startTypeScriptChild(script: string, options: TypeScriptChildOptions = {}): TypeScriptChild {
  const child = spawn(
    process.execPath,
    [
      ...(options.source === false ? [] : ['--conditions=@bulwark/source']),
      '--import',
      'tsx',
      '--import',
      register,
      script,
      ...(options.args ?? []),
    ],
    {
      cwd: dirname(script),
      env: { ...process.env, ...options.env },
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    },
  );
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
    if (options.stderrLabel !== undefined) process.stderr.write(`[${options.stderrLabel} ${child.pid}] ${chunk}`);
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      options.onLine?.(line);
    });
    child.once('exit', (code) => reject(new Error(`${basename(script)} exited (${code}) before ready: ${errors}`)));
  });
  // A child that never prints `ready` (one run to its end) is no unhandled rejection.
  ready.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exited, errors: () => errors };
}
