import { api, euros, type Order } from './api';
import { navigate, usePoll } from './router';

const stepNames: Record<string, string> = {
  'reserve-stock': 'Reserve stock',
  'authorize-payment': 'Authorize payment',
  'capture-payment': 'Capture payment',
  'create-shipment': 'Create shipment',
};

export function Timeline({
  entries,
}: {
  entries: Array<{ at: string; kind: string; step?: string | null; detail?: unknown }>;
}) {
  return (
    <ol className="timeline">
      {entries.map((entry, index) => (
        <li
          // biome-ignore lint/suspicious/noArrayIndexKey: a timeline only grows at its end, so positions are stable.
          key={index}
          className={entry.kind.includes('fail') ? 'bad' : entry.kind.includes('compensat') ? 'warn' : ''}
        >
          <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time> {entry.kind.replaceAll('-', ' ')}
          {entry.step ? ` — ${stepNames[entry.step] ?? entry.step}` : ''}
          {entry.detail && typeof entry.detail === 'object' && 'message' in entry.detail
            ? `: ${String((entry.detail as { message: unknown }).message)}`
            : ''}
        </li>
      ))}
    </ol>
  );
}

export function OrderPage({ id }: { id: string }) {
  // Polls until the saga has ended; the page updates live while it runs.
  const { value: order, error } = usePoll(
    () => api<Order>('GET', `/api/orders/${encodeURIComponent(id)}`),
    1_000,
    [id],
    (current) => current.status !== 'pending',
  );
  if (!order) return <p aria-busy={!error}>{error ?? 'Loading the order…'}</p>;
  return (
    <section aria-labelledby="order-title">
      <h1 id="order-title">Order {order.id.slice(0, 8)}</h1>
      <p className={`status status-${order.status}`} role="status" aria-live="polite" data-testid="order-status">
        {order.status === 'pending'
          ? 'Pending — the order is being processed…'
          : order.status === 'confirmed'
            ? 'Confirmed'
            : `Cancelled: ${order.reason ?? ''}`}
      </p>
      <ul>
        {order.items.map((line) => (
          <li key={line.productId}>
            {line.quantity} × {line.name} — {euros(line.priceCents * line.quantity)}
          </li>
        ))}
      </ul>
      <p>Total {euros(order.totalCents)}</p>
      <h2>Saga timeline ({order.saga?.status ?? 'not started'})</h2>
      <Timeline entries={order.saga?.timeline ?? []} />
    </section>
  );
}

export function OrdersPage() {
  const { value: orders, error } = usePoll(() => api<Order[]>('GET', '/api/orders'), 2_000, []);
  if (!orders) return <p aria-busy={!error}>{error ?? 'Loading your orders…'}</p>;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">My orders</h1>
      {orders.length === 0 ? (
        <p>No orders yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Placed</th>
              <th scope="col">Total</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((order) => (
              <tr key={order.id}>
                <td>
                  <a
                    href={`/orders/${order.id}`}
                    onClick={(event) => {
                      event.preventDefault();
                      navigate(`/orders/${order.id}`);
                    }}
                  >
                    {order.id.slice(0, 8)}
                  </a>
                </td>
                <td>{new Date(order.createdAt).toLocaleString()}</td>
                <td>{euros(order.totalCents)}</td>
                <td className={`status-${order.status}`}>{order.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
