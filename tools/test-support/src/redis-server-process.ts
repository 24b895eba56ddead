// One redis-server child process, for the private servers (redis-server.ts) and the cluster nodes
// (redis-cluster.ts): started with the given arguments, ready once it says it accepts connections.
import { type ChildProcess, spawn } from 'node:child_process';

export interface RedisServerChild {
  readonly child: ChildProcess;
  /**
   * Resolves once the server accepts connections. Rejects with its exit code and output if it
   * exits first (a port taken, say), or if it is not ready within 10 s (it is then still running).
   */
  readonly ready: Promise<void>;
}

/** Spawns `binary` (a redis-server) with `args`, its output read so that its pipe never fills. */
export function spawnRedisServer(binary: string, args: readonly string[]): RedisServerChild {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${output}`)), 10_000);
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (code ${code}, signal ${signal}):\n${output}`));
    });
  });
  return { child, ready };
}
