export { invalidateCacheHandler } from './invalidate-cache-handler.js';
