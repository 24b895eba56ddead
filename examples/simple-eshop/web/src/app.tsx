import { type ReactElement, useEffect, useState } from 'react';
import { loadSession, type Session, saveSession, whenSessionExpires } from './api';
import { LoginPage, RegisterPage } from './auth-pages';
import { CartPage } from './cart-page';
import { CatalogPage } from './catalog-page';
import { OpsPage } from './ops-page';
import { OrderPage, OrdersPage } from './orders-page';
import { ProductPage } from './product-page';
import { navigate, usePath } from './router';

function Link({ to, children }: { to: string; children: string }) {
  const current = usePath() === to;
  return (
    <a
      href={to}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  // An expired or refused token signs the user out and shows the login form, not a stuck page.
  useEffect(() => whenSessionExpires(() => setSession(undefined)), []);
  const signedIn = (page: ReactElement) => (session ? page : <LoginPage onSession={setSession} />);

  let page: ReactElement;
  const product = path.match(/^\/products\/([^/]+)$/);
  const order = path.match(/^\/orders\/([^/]+)$/);
  if (product) page = <ProductPage id={decodeURIComponent(product[1] as string)} />;
  else if (order) page = signedIn(<OrderPage id={decodeURIComponent(order[1] as string)} />);
  else if (path === '/cart') page = signedIn(<CartPage />);
  else if (path === '/orders') page = signedIn(<OrdersPage />);
  else if (path === '/login') page = <LoginPage onSession={setSession} />;
  else if (path === '/register') page = <RegisterPage onSession={setSession} />;
  else if (path === '/ops')
    page = !session ? (
      <LoginPage onSession={setSession} />
    ) : session.role === 'admin' ? (
      <OpsPage />
    ) : (
      <p role="alert">The ops view is for administrators.</p>
    );
  else page = <CatalogPage />;

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <Link to="/">Trailhead</Link>
          <Link to="/cart">Cart</Link>
          <Link to="/orders">Orders</Link>
          {session?.role === 'admin' && <Link to="/ops">Ops</Link>}
          <span className="spacer" />
          {session ? (
            <>
              <span className="muted">{session.user.username}</span>
              <button
                type="button"
                onClick={() => {
                  saveSession(undefined);
                  setSession(undefined);
                  navigate('/');
                }}
              >
                Log out
              </button>
            </>
          ) : (
            <>
              <Link to="/login">Log in</Link>
              <Link to="/register">Register</Link>
            </>
          )}
        </nav>
      </header>
      <main id="main">{page}</main>
      <footer className="muted">The Bulwark reference shop — payments and emails are simulated.</footer>
    </>
  );
}
