import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { assertValidBlobRef, fsBlobStore, InvalidBlobRefError } from '@bulwark/messaging';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'bulwark-refs-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const isValid = (ref: string) => {
  try {
    assertValidBlobRef(ref);
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidBlobRefError);
    return false;
  }
};

// Strings built from the characters that matter for paths, so traversal shapes come up often.
const pathish = fc
  .array(fc.constantFrom('a', 'b', '.', '..', '/', '\\', '%2e', '%2f', '~', ':', '\u0000', ' ', '-', '_', 'C:'), {
    maxLength: 12,
  })
  .map((parts) => parts.join(''));

describe('blob refs (property)', () => {
  it('a ref that passes validation always resolves inside the store directory', () => {
    fc.assert(
      fc.property(fc.oneof(pathish, fc.string(), fc.webPath()), (ref) => {
        if (!isValid(ref)) return;
        const path = resolve(root, `${ref}.blob`);
        expect(path.startsWith(root + sep)).toBe(true);
        expect(ref.split('/')).not.toContain('..');
      }),
      { numRuns: 5_000 },
    );
  });

  it('fsBlobStore never writes outside its directory, whatever the ref', async () => {
    const store = fsBlobStore({ dir: join(root, 'store') });
    await fc.assert(
      fc.asyncProperty(pathish, async (ref) => {
        try {
          const info = await store.put(ref, Buffer.from('x'));
          expect(isValid(ref)).toBe(true);
          expect(info.ref).toBe(ref);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidBlobRefError);
        }
      }),
      { numRuns: 300 },
    );
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(root)).sort()).toEqual(['store']);
  });
});
