// Internal failures of one broker exchange, turned into typed MessagingErrors by the callers
// (or retried): they never reach users as they are, except through `cause`.

/** A broker `basic.nack`: the broker refused the message, sending it again will not help. */
export class BrokerRefusedError extends Error {}

/** The broker returned the message (basic.return, no queue bound for its routing key). */
export class BrokerReturnedError extends Error {}

/** The broker did not answer in time; the channel is dropped and the work tried again on a new one. */
export class BrokerTimeoutError extends Error {}
