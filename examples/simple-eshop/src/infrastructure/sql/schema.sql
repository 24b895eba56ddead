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

-- Fault switches, shared by every process of the shop (read every few hundred ms).
CREATE TABLE IF NOT EXISTS shop_faults (
  target     text PRIMARY KEY CHECK (target IN ('payment', 'email')),
  settings   jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The payment provider simulator's ledger (what a real provider would hold). Keyed by the
-- caller's idempotency key, as Stripe's API is, so a retried call never charges twice.
CREATE TABLE IF NOT EXISTS provider_payments (
  id              uuid PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  operation       text NOT NULL CHECK (operation IN ('authorize', 'capture', 'refund', 'void')),
  order_id        text NOT NULL,
  amount_cents    integer NOT NULL,
  authorization_id uuid,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS provider_payments_order ON provider_payments (order_id);

-- The development mailbox: emails the email provider simulator "sent".
CREATE TABLE IF NOT EXISTS shop_mail (
  id          uuid PRIMARY KEY,
  message_id  text NOT NULL UNIQUE,
  recipient   text NOT NULL,
  subject     text NOT NULL,
  body        text NOT NULL,
  attachments jsonb NOT NULL DEFAULT '[]',
  sent_at     timestamptz NOT NULL DEFAULT now()
);

-- Orders. status: pending until the order saga ends, then confirmed or cancelled (with a reason).
CREATE TABLE IF NOT EXISTS shop_orders (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES shop_users (id),
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'cancelled')),
  reason       text,
  total_cents  integer NOT NULL CHECK (total_cents > 0),
  items        jsonb NOT NULL,
  note         text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS shop_orders_user ON shop_orders (user_id, created_at DESC);

-- One row per order whose stock is held; deleting it (release) or marking it sold is idempotent.
CREATE TABLE IF NOT EXISTS shop_reservations (
  order_id   uuid PRIMARY KEY REFERENCES shop_orders (id),
  items      jsonb NOT NULL,
  state      text NOT NULL CHECK (state IN ('reserved', 'released', 'sold'))
);

CREATE TABLE IF NOT EXISTS shop_shipments (
  order_id   uuid PRIMARY KEY REFERENCES shop_orders (id),
  tracking   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE shop_orders ADD COLUMN IF NOT EXISTS note text;

-- The shipping service's parcels, booked with the carrier when an order completes (a
-- choreographed participant: see src/fulfilment).
CREATE TABLE IF NOT EXISTS shop_deliveries (
  order_id   uuid PRIMARY KEY REFERENCES shop_orders (id),
  carrier    text NOT NULL,
  tracking   text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- What each running process reports of its patterns (breakers, bulkheads, limiters), refreshed
-- every second, so the ops view sees every process, not only the one that serves it.
CREATE TABLE IF NOT EXISTS shop_process_status (
  process_id text PRIMARY KEY,
  role       text NOT NULL,
  status     jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Recent spans of every process (see src/telemetry/span-store.ts): the ops view draws an order's
-- trace from them, across the roles that took part. Kept for an hour.
CREATE TABLE IF NOT EXISTS shop_spans (
  trace_id       text NOT NULL,
  span_id        text NOT NULL,
  parent_span_id text,
  name           text NOT NULL,
  kind           smallint NOT NULL,
  role           text NOT NULL,
  process_id     text NOT NULL,
  start_us       bigint NOT NULL,
  duration_us    bigint NOT NULL,
  error          boolean NOT NULL,
  attributes     jsonb NOT NULL,
  events         jsonb NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS shop_spans_recorded_at ON shop_spans (recorded_at);
CREATE INDEX IF NOT EXISTS shop_spans_order ON shop_spans ((attributes ->> 'shop.order.id'))
  WHERE attributes ? 'shop.order.id';

-- Per route, what `http.server.request.duration` counted in each interval of each process (see
-- src/telemetry/route-samples.ts): the ops view's route charts. Kept for an hour.
CREATE TABLE IF NOT EXISTS shop_route_samples (
  at            timestamptz NOT NULL,
  process_id    text NOT NULL,
  route         text NOT NULL,
  requests      bigint NOT NULL,
  server_errors bigint NOT NULL,
  client_errors bigint NOT NULL,
  bounds        double precision[] NOT NULL,
  counts        bigint[] NOT NULL
);
CREATE INDEX IF NOT EXISTS shop_route_samples_at ON shop_route_samples (at);
