// @node-rs/argon2 ships a prebuilt binary per platform (no compiler at install time); the
// `argon2` package's glibc prebuild crashes on some Debian machines and falls back to node-gyp.
import { type Algorithm, hash, verify } from '@node-rs/argon2';

// `Algorithm` is an ambient const enum, which isolated modules cannot read at run time.
const argon2id = 2 as Algorithm.Argon2id;

/** argon2id with OWASP's minimum parameters (m=19 MiB, t=2, p=1). */
export const hashPassword = (password: string): Promise<string> =>
  hash(password, { algorithm: argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });

export const verifyPassword = (passwordHash: string, password: string): Promise<boolean> =>
  verify(passwordHash, password).catch(() => false);
