// What the shop needs of a payment provider. The simulator implements it in-process; the HTTP
// client implements it against the simulator running as its own service (`--role payment`).

export interface AuthorizeRequest {
  orderId: string;
  amountCents: number;
  /** Same key, same answer: a retried call never authorizes twice. */
  idempotencyKey: string;
}
export interface CaptureRequest {
  orderId: string;
  authorizationId: string;
  amountCents: number;
  idempotencyKey: string;
}
export interface RefundRequest {
  orderId: string;
  authorizationId: string;
  amountCents: number;
  idempotencyKey: string;
}

export interface PaymentProvider {
  /** Holds the amount on the card; rejects with PaymentDeclinedError for a refused card. */
  authorize(request: AuthorizeRequest, signal?: AbortSignal): Promise<{ authorizationId: string }>;
  capture(request: CaptureRequest, signal?: AbortSignal): Promise<{ captureId: string }>;
  refund(request: RefundRequest, signal?: AbortSignal): Promise<{ refundId: string }>;
  /** Releases an authorization that was never captured. */
  void(request: Omit<RefundRequest, 'amountCents'>, signal?: AbortSignal): Promise<void>;
}

/** The card was refused: a business outcome, never retried. */
export class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError';
  readonly transient = false;
}
