import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { reapOrphanedTestProcesses, testRunOwnerVariable } from '../src/orphaned-test-processes.js';

const onLinux = process.platform === 'linux';
const started: ChildProcess[] = [];

function sleeper(owner: number): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {
    env: { ...process.env, [testRunOwnerVariable]: String(owner) },
    stdio: 'ignore',
  });
  started.push(child);
  return child;
}

afterEach(() => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
});

describe.runIf(onLinux)('reapOrphanedTestProcesses', () => {
  it('marks every test process with the id of the run that owns it, a live process', () => {
    const owner = Number(process.env[testRunOwnerVariable]);
    expect(Number.isInteger(owner)).toBe(true);
    expect(() => process.kill(owner, 0)).not.toThrow();
  });

  it('ends a process whose run is gone and leaves one of a live run alone', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    const orphan = sleeper(gone);
    const owned = sleeper(process.pid);
    await Promise.all([once(orphan, 'spawn'), once(owned, 'spawn')]);

    const exited = once(orphan, 'exit');
    const reaped = reapOrphanedTestProcesses();

    expect(reaped).toContain(orphan.pid);
    expect(reaped).not.toContain(owned.pid);
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    expect(owned.exitCode).toBeNull();
  });
});
