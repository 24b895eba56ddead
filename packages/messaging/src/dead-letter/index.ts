export type { DeadLetterHeader } from './dead-letter-headers.js';
export { deadLetterHeaders } from './dead-letter-headers.js';
