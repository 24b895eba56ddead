// The shop's JSON API, with the session token kept in localStorage.

export interface Product {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  image: string;
  stock: number;
}
export interface CartLine {
  productId: string;
  name: string;
  priceCents: number;
  quantity: number;
}
export interface Cart {
  items: CartLine[];
  totalCents: number;
}
export interface TimelineEntry {
  at: string;
  kind: string;
  step?: string;
  attempt?: number;
  detail?: unknown;
}
export interface Order {
  id: string;
  status: 'pending' | 'confirmed' | 'cancelled';
  reason: string | null;
  totalCents: number;
  items: CartLine[];
  createdAt: string;
  updatedAt: string;
  saga?: { status: string; timeline: TimelineEntry[] };
}
export interface Session {
  token: string;
  user: { id: string; username: string; email: string };
  role: 'customer' | 'admin';
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sessionKey = 'trailhead.session';

export function loadSession(): Session | undefined {
  try {
    const text = localStorage.getItem(sessionKey);
    return text ? (JSON.parse(text) as Session) : undefined;
  } catch {
    // A corrupt entry is a signed-out session, not a blank page.
    localStorage.removeItem(sessionKey);
    return undefined;
  }
}

/** Called when the server refuses the session (expired or invalid token). */
let onSessionExpired: () => void = () => {};
export function whenSessionExpires(handler: () => void): void {
  onSessionExpired = handler;
}

export function saveSession(session: Session | undefined): void {
  if (session) localStorage.setItem(sessionKey, JSON.stringify(session));
  else localStorage.removeItem(sessionKey);
}

export async function api<T>(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const session = loadSession();
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (response.status === 401 && session) {
    saveSession(undefined);
    onSessionExpired();
  }
  if (!response.ok) {
    const problem = data as { detail?: string; title?: string } | undefined;
    throw new ApiError(response.status, problem?.detail ?? problem?.title ?? `HTTP ${response.status}`);
  }
  return data as T;
}

export const euros = (cents: number): string => `€${(cents / 100).toFixed(2)}`;

/** The role claim of a JWT (the server checks it; the page only uses it to show the ops link). */
export function roleOf(token: string): 'customer' | 'admin' {
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as {
      role?: string;
    };
    return payload.role === 'admin' ? 'admin' : 'customer';
  } catch {
    return 'customer';
  }
}
