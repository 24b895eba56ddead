import { defineConfig } from 'vite';

// React without @vitejs/plugin-react: esbuild's automatic JSX runtime is all this page needs.
export default defineConfig({
  root: import.meta.dirname,
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 600 },
  logLevel: 'warn',
});
