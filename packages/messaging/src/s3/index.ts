/**
 * S3 blob store through the user's `minio` client.
 *
 * @module @bulwark/messaging/s3
 */
// Each adapter adds its export line here, one per line, grouped by issue.
// Claim check (issue: idempotency and claim check).
export type { S3BlobStoreOptions } from './s3-blob-store.js';
export { S3_EXPIRES_AT_METADATA, s3BlobStore } from './s3-blob-store.js';
