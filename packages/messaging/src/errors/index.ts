export { InvalidMessagingOptionsError, InvalidMessagingValueError, MessagingError } from './messaging-error.js';
