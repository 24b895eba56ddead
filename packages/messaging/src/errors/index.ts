export { InvalidMessagingValueError, MessagingError } from './messaging-error.js';
