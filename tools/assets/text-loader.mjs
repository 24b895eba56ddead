// Node module hook: lets `tsx`-run sources import .sql/.lua files as strings, like the
// tsup (esbuild text loader) and vitest (textAssets plugin) builds do.
import { readFile } from 'node:fs/promises';

const textAsset = /\.(sql|lua)$/;

export async function load(url, context, nextLoad) {
  if (textAsset.test(url)) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
