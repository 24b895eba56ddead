-- The shop's own tables (the Bulwark adapters create theirs through their migrate()).
-- Runs at every start: every statement is idempotent.
CREATE TABLE IF NOT EXISTS shop_users (
  id            uuid PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  email         text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  role          text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS shop_products (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents > 0),
  image       text NOT NULL,
  -- stock: available to sell; reserved: held by orders in flight; sold: captured.
  stock       integer NOT NULL CHECK (stock >= 0),
  reserved    integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  sold        integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
  initial_stock integer NOT NULL
);

CREATE TABLE IF NOT EXISTS shop_carts (
  user_id    uuid NOT NULL REFERENCES shop_users (id) ON DELETE CASCADE,
  product_id text NOT NULL REFERENCES shop_products (id),
  quantity   integer NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (user_id, product_id)
);
