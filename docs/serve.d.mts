/** The built site's directory (docs/dist). */
export declare const distDir: string;
/** Starts a static server for `dir` (default docs/dist); resolves with its URL and a close function. */
export declare function serveDocs(options?: {
  port?: number;
  host?: string;
  dir?: string;
}): Promise<{ url: string; close: () => Promise<void> }>;
