// `pnpm run check:package` of a package: checks the tarball users get, not the workspace folder.
// `pnpm pack` applies `publishConfig` (the `exports` without the `@bulwark/source` condition) and
// `files`, which `npm pack` (what `attw --pack` runs) would not, so the tarball is packed here and
// publint and are-the-types-wrong read it. Run from the package's folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const work = mkdtempSync(join(tmpdir(), 'bulwark-check-package-'));
const run = (command, args) => execFileSync(command, args, { stdio: 'inherit' });
try {
  execFileSync('pnpm', ['pack', '--pack-destination', work], { stdio: 'ignore' });
  const tarball = join(
    work,
    readdirSync(work).find((file) => file.endsWith('.tgz')),
  );
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
  const manifest = execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' });
  const stray = files.filter((file) => !file.startsWith('package/dist/') && !/^package\/[^/]+$/.test(file));
  if (stray.length > 0) throw new Error(`the tarball carries files outside dist/:\n${stray.join('\n')}`);
  if (manifest.includes('@bulwark/source'))
    throw new Error('the packed package.json still has the @bulwark/source condition (publishConfig.exports?)');
  run('publint', ['run', '--strict', tarball]);
  run('attw', [tarball, '--profile', 'node16']);
} finally {
  rmSync(work, { recursive: true, force: true });
}
