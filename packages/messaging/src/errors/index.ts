export { InvalidMessagingOptionsError, MessagingError } from './messaging-error.js';
