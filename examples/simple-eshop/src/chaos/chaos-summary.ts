import type { ChaosReport } from './chaos-run.js';

/** The figures of a run, as printed at its end. */
export function chaosSummary(report: ChaosReport): string {
  const count = (kind: string) => report.faults.filter((fault) => fault.kind === kind).length;
  const lines = [
    `faults injected: ${report.faults.length} (${count('backends-terminated')} times every shop backend terminated, ` +
      `${count('connections-cut')} times every connection cut by the proxy, ` +
      `${report.faults
        .filter((fault) => fault.kind.endsWith('restart'))
        .map((fault) => `${fault.kind} (ready ${fault.readyWhileDown} while down, 200 ${fault.recoveryMs} ms after)`)
        .join(', ')})`,
    `longest recovery: ${report.longestRecoveryMs} ms (server back or connections cut → /health/ready 200)`,
    `crashes: ${report.crashes}`,
  ];
  if (report.load) {
    const { orders, books, invariants } = report.load;
    lines.push(
      `orders: ${orders.placed} accepted (${orders.perSecond.toFixed(1)}/s), ${orders.confirmed} confirmed, ` +
        `${orders.cancelled} cancelled, ${orders.pending} pending; ${orders.retried} order requests retried with their key; ` +
        `${report.load.errors5xx} 5xx of ${report.load.requests} requests`,
      `cancelled because: ${JSON.stringify(orders.cancelledBecause)}`,
      `lost: ${books.lost}, doubled: ${books.doubled}`,
      ...Object.entries(invariants).map(
        ([name, result]) => `  ${result.ok ? 'ok  ' : 'FAIL'} ${name} (${result.detail})`,
      ),
    );
  }
  if (report.crash) lines.push(`the shop died: ${JSON.stringify(report.crash.exit)}\n${report.crash.outputTail}`);
  lines.push(report.ok ? 'chaos: every invariant holds' : 'chaos: FAILED');
  return lines.join('\n');
}
