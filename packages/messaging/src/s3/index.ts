/**
 * S3 blob store through the user's `minio` client.
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.
export {};
