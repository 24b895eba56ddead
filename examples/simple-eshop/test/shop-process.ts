// Shop processes started by tests as in production: `node src/main.ts --role <role>` with the
// flags of the shop's start script, and a wait until one answers `/health/ready`.
import { join } from 'node:path';

/** The shop's directory, the working directory of the processes. */
export const shopDir = join(import.meta.dirname, '..');

/** The arguments of `pnpm start --role <role>`, as the shop's start script runs it. */
export const shopCommand = (role: string): string[] => [
  '--conditions=@bulwark/source',
  '--import',
  'tsx',
  '--import',
  '../../tools/assets/register.mjs',
  'src/main.ts',
  '--role',
  role,
];

/** Resolves once `url` answers `/health/ready` with 2xx; throws after `timeoutMs`. */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not become ready`);
}
