import { useEffect, useRef, useState } from 'react';
import { api, type Cart, euros } from './api';
import { navigate } from './router';

export function CartPage() {
  const [cart, setCart] = useState<Cart>();
  const [note, setNote] = useState('');
  const [placing, setPlacing] = useState(false);
  const [error, setError] = useState<string>();
  // One Idempotency-Key per checkout: a double click, or a retry after a network error, sends the
  // same key, so the server makes one order at most. A new key only after an order went through.
  const checkoutKey = useRef(crypto.randomUUID());

  useEffect(() => {
    api<Cart>('GET', '/api/cart').then(setCart, (caught: Error) => setError(caught.message));
  }, []);

  // Quantities are drafts while typing (clearing the field to retype must not drop the line);
  // the cart is saved when the field is left or Enter is pressed. Remove drops a line.
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const saveCart = async (lines: Array<{ productId: string; quantity: number }>) => {
    try {
      setCart(await api<Cart>('PUT', '/api/cart', { body: { items: lines } }));
      setError(undefined);
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  const commitQuantity = async (productId: string) => {
    const draft = drafts[productId];
    setDrafts(({ [productId]: _, ...rest }) => rest);
    if (!cart || draft === undefined) return;
    const quantity = Math.min(99, Math.max(1, Math.round(Number(draft)) || 1));
    await saveCart(
      cart.items.map((line) => ({
        productId: line.productId,
        quantity: line.productId === productId ? quantity : line.quantity,
      })),
    );
  };
  const removeLine = (productId: string) =>
    cart &&
    saveCart(
      cart.items
        .filter((line) => line.productId !== productId)
        .map(({ productId: id, quantity }) => ({ productId: id, quantity })),
    );

  const placeOrder = async () => {
    setPlacing(true);
    setError(undefined);
    try {
      const order = await api<{ id: string }>('POST', '/api/orders', {
        body: note ? { note } : {},
        headers: { 'idempotency-key': checkoutKey.current },
      });
      checkoutKey.current = crypto.randomUUID();
      navigate(`/orders/${order.id}`);
    } catch (caught) {
      setError((caught as Error).message);
      setPlacing(false);
    }
  };

  if (!cart) return <p aria-busy={!error}>{error ?? 'Loading your cart…'}</p>;
  if (cart.items.length === 0)
    return (
      <p>
        Your cart is empty.{' '}
        <a
          href="/"
          onClick={(event) => {
            event.preventDefault();
            navigate('/');
          }}
        >
          Browse the catalog
        </a>
        .
      </p>
    );
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Cart</h1>
      <table>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
            <th scope="col">Price</th>
          </tr>
        </thead>
        <tbody>
          {cart.items.map((line) => (
            <tr key={line.productId}>
              <td>{line.name}</td>
              <td>
                <label>
                  <span className="visually-hidden">Quantity of {line.name}</span>
                  <input
                    type="number"
                    min={1}
                    max={99}
                    value={drafts[line.productId] ?? String(line.quantity)}
                    onChange={(event) => {
                      const value = event.target.value;
                      setDrafts((current) => ({ ...current, [line.productId]: value }));
                    }}
                    onBlur={() => void commitQuantity(line.productId)}
                    onKeyDown={(event) => {
                      if (event.key === 'Enter') void commitQuantity(line.productId);
                    }}
                  />
                </label>{' '}
                <button
                  type="button"
                  onClick={() => void removeLine(line.productId)}
                  aria-label={`Remove ${line.name}`}
                >
                  Remove
                </button>
              </td>
              <td>{euros(line.priceCents * line.quantity)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={2}>
              Total
            </th>
            <td>{euros(cart.totalCents)}</td>
          </tr>
        </tfoot>
      </table>
      <label className="block">
        Delivery note (optional)
        <input type="text" maxLength={500} value={note} onChange={(event) => setNote(event.target.value)} />
      </label>
      <button type="button" className="primary" onClick={placeOrder} disabled={placing}>
        {placing ? 'Placing order…' : 'Place order'}
      </button>
      {error && <p role="alert">{error}</p>}
    </section>
  );
}
