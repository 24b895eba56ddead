import { useEffect, useState } from 'react';
import { api, euros, type Product } from './api';
import { navigate } from './router';

export function ProductImage({ product }: { product: Pick<Product, 'id' | 'name'> }) {
  // A drawn mountain per product, coloured by its id: no image files, no external requests.
  const hue = [...product.id].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 360;
  return (
    <svg className="product-image" viewBox="0 0 120 80" role="img" aria-label={product.name}>
      <rect width="120" height="80" fill={`hsl(${hue} 40% 88%)`} />
      <path d="M0 80 L40 25 L60 50 L80 20 L120 80 Z" fill={`hsl(${hue} 35% 40%)`} />
      <circle cx="98" cy="18" r="8" fill={`hsl(${(hue + 40) % 360} 80% 65%)`} />
    </svg>
  );
}

export function CatalogPage() {
  const [products, setProducts] = useState<Product[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<Product[]>('GET', '/api/products').then(setProducts, (caught: Error) => setError(caught.message));
  }, []);
  if (error) return <p role="alert">Could not load the catalog: {error}</p>;
  if (!products) return <p aria-busy="true">Loading the catalog…</p>;
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Catalog</h1>
      <ul className="grid">
        {products.map((product) => (
          <li key={product.id} className="card">
            <a
              href={`/products/${product.id}`}
              onClick={(event) => {
                event.preventDefault();
                navigate(`/products/${product.id}`);
              }}
            >
              <ProductImage product={product} />
              <h2>{product.name}</h2>
            </a>
            <p className="price">{euros(product.priceCents)}</p>
            <p className="muted">{product.stock > 0 ? `${product.stock} in stock` : 'Out of stock'}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}
