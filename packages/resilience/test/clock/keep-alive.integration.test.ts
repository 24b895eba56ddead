// Regression: every library timer used to be unref'd, so a plain script whose only pending work
// was a retry's backoff wait exited early without output (ESM: exit code 13). Awaited waits now
// keep the process alive; housekeeping timers still do not.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const scripts = mkdtempSync(join(tmpdir(), 'keep-alive-'));
// Scripts live outside the workspace, so they import the package's source by its path.
const resilience = pathToFileURL(join(repo, 'packages', 'resilience', 'src', 'index.ts')).href;

function runScript(name: string, source: string) {
  const file = join(scripts, name);
  writeFileSync(file, source);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--conditions=@bulwark/source', '--import', 'tsx', file], {
    cwd: join(repo, 'packages', 'resilience'),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ...result, elapsedMs: Date.now() - started };
}

describe('timers and process lifetime', () => {
  it('a script awaiting a retry backoff runs to the end', () => {
    const result = runScript(
      'retry.mts',
      `import { constant, retry } from '${resilience}';
const policy = retry({ maxAttempts: 3, backoff: constant({ ms: 300 }) });
const value = await policy.execute(({ attempt }) => {
  if (attempt < 3) throw new Error('not yet');
  return 'done after ' + attempt;
});
console.log(value);
`,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('done after 3');
  });

  it('housekeeping timers do not keep a finished script alive', () => {
    const result = runScript(
      'sweep.mts',
      `import { fixedWindow, rateLimiter } from '${resilience}';
const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }) });
await limiter.consume('user-1');
console.log('consumed');
`,
    );
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('consumed');
    // The idle-key sweep (a minute away) must not hold the process.
    expect(result.elapsedMs).toBeLessThan(20_000);
  });
});
