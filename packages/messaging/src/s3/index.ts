/**
 * S3 blob store through the user's `minio` client.
 *
 * @module @bulwark/messaging/s3
 */
export type { S3BlobStoreOptions } from './s3-blob-store.js';
export { S3_EXPIRES_AT_METADATA, s3BlobStore } from './s3-blob-store.js';
