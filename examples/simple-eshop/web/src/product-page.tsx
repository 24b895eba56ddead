import { useEffect, useState } from 'react';
import { api, type Cart, euros, loadSession, type Product } from './api';
import { ProductImage } from './catalog-page';
import { navigate } from './router';

export function ProductPage({ id }: { id: string }) {
  const [product, setProduct] = useState<Product>();
  const [quantity, setQuantity] = useState(1);
  const [message, setMessage] = useState<string>();
  useEffect(() => {
    api<Product>('GET', `/api/products/${encodeURIComponent(id)}`).then(setProduct, (caught: Error) =>
      setMessage(caught.message),
    );
  }, [id]);

  const addToCart = async () => {
    if (!loadSession()) return navigate('/login');
    try {
      const cart = await api<Cart>('GET', '/api/cart');
      const items = cart.items.map((line) => ({ productId: line.productId, quantity: line.quantity }));
      const existing = items.find((item) => item.productId === id);
      if (existing) existing.quantity = Math.min(99, existing.quantity + quantity);
      else items.push({ productId: id, quantity });
      await api('PUT', '/api/cart', { body: { items } });
      setMessage(`Added ${quantity} to your cart.`);
    } catch (caught) {
      setMessage((caught as Error).message);
    }
  };

  if (!product) return <p aria-busy={!message}>{message ?? 'Loading…'}</p>;
  return (
    <article className="product" aria-labelledby="product-title">
      <ProductImage product={product} />
      <div>
        <h1 id="product-title">{product.name}</h1>
        <p>{product.description}</p>
        <p className="price">{euros(product.priceCents)}</p>
        <p className="muted">{product.stock} in stock</p>
        <label>
          Quantity{' '}
          <input
            type="number"
            min={1}
            max={99}
            value={quantity}
            onChange={(event) => setQuantity(Math.max(1, Number(event.target.value) || 1))}
          />
        </label>{' '}
        <button type="button" onClick={addToCart} disabled={product.stock === 0}>
          Add to cart
        </button>
        <p role="status">{message}</p>
      </div>
    </article>
  );
}
