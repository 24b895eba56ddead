// What a test run starts (private RabbitMQ nodes in a session of their own, redis-server,
// PostgreSQL, NATS, shop processes) outlives a run that is killed, and keeps eating the machine's
// two cores and the shared servers' connections in every later run. Each such process inherits
// the id of the run that owns it through its environment; a new run ends those whose owner is gone.
import { readdirSync, readFileSync } from 'node:fs';

/** The environment variable that carries the owning test run's process id to every child. */
export const testRunOwnerVariable = 'BULWARK_TEST_RUN_OWNER';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(pid: string): number | undefined {
  let environment: string;
  try {
    environment = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined; // gone, or not ours to read
  }
  const entry = environment.split('\0').find((line) => line.startsWith(`${testRunOwnerVariable}=`));
  const owner = Number(entry?.slice(testRunOwnerVariable.length + 1));
  return Number.isInteger(owner) && owner > 0 ? owner : undefined;
}

/**
 * SIGKILLs every process started by a test run that no longer runs, and returns their ids.
 * Processes of a run still going (another `vitest` on the same machine) are left alone. Linux
 * only (it reads /proc); elsewhere it does nothing.
 */
export function reapOrphanedTestProcesses(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  const reaped: number[] = [];
  for (const pid of entries) {
    const owner = ownerOf(pid);
    if (owner === undefined || isAlive(owner)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      reaped.push(Number(pid));
    } catch {
      // Gone between listing and signalling.
    }
  }
  return reaped;
}
