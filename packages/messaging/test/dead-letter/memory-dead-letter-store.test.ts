import { memoryDeadLetterStore } from '@bulwark/messaging';
import { deadLetterStoreCases } from './dead-letter-store-cases.js';

deadLetterStoreCases('memoryDeadLetterStore', () => memoryDeadLetterStore());
