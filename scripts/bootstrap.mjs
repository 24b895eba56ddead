// Folds every install step into `pnpm test` / `pnpm dev` (or `npm test` / `npm run dev` on a
// machine without pnpm): installs pnpm 10 when missing, then the workspace's packages when
// node_modules is missing or older than the lockfile.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const run = (command) => execSync(command, { cwd: root, stdio: 'inherit' });

try {
  execSync('pnpm --version', { stdio: 'ignore' });
} catch {
  console.log('[bootstrap] installing pnpm 10');
  run('npm install -g pnpm@10');
}

const marker = join(root, 'node_modules', '.modules.yaml');
const lockfile = join(root, 'pnpm-lock.yaml');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lockfile).mtimeMs) {
  console.log('[bootstrap] installing packages');
  run('pnpm install --frozen-lockfile');
}
