// A CPU budget for one process of a bench, as if it ran on a host of its own with that much CPU:
// the process moves itself into a cgroup of its own (cgroup v1 `cpu` controller, as mounted on
// this machine; root only) whose CFS quota is that fraction of one core. Used by outbox.to-brokers
// with BENCH_RELAY_CPU: on a 2-core machine shared with PostgreSQL and the broker, a fleet of
// relays without budgets measures the machine, not whether the relays get in each other's way.
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';

const cpuController = '/sys/fs/cgroup/cpu';
/** A short period spreads the budget evenly: 2.5 ms of every 10 ms for 0.25, not 25 of every 100. */
const periodMicros = 10_000;

/**
 * Moves this process (all its threads) into a new cgroup limited to `cores` of CPU (0.01 to 1);
 * returns what moves it back and removes the cgroup. Throws if the controller is not there or not
 * writable (not root).
 */
export function joinCpuBudget(cores: number): () => void {
  if (!(cores >= 0.01 && cores <= 1)) throw new Error(`a CPU budget is 0.01 to 1 core, got ${cores}`);
  if (!existsSync(`${cpuController}/cgroup.procs`))
    throw new Error(`no cgroup v1 cpu controller at ${cpuController}: BENCH_RELAY_CPU cannot be applied here`);
  const group = `${cpuController}/bulwark-bench-${process.pid}`;
  mkdirSync(group);
  writeFileSync(`${group}/cpu.cfs_period_us`, String(periodMicros));
  writeFileSync(`${group}/cpu.cfs_quota_us`, String(Math.round(cores * periodMicros)));
  writeFileSync(`${group}/cgroup.procs`, String(process.pid));
  return () => {
    writeFileSync(`${cpuController}/cgroup.procs`, String(process.pid));
    rmdirSync(group);
  };
}
