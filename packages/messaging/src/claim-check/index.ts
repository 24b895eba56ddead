export type { BlobInfo, BlobStore, PutBlobOptions } from './blob-store.js';
