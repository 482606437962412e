/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Served by the API at /console (same origin); `vite` in dev proxies the API routes to a running stack.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  // The repository's libs, as in tsconfig.json's paths.
  resolve: { alias: { '@mlis': fileURLToPath(new URL('../libs', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: Object.fromEntries(['/v1', '/ui', '/health'].map((path) => [path, process.env.MLIS_API_URL ?? 'http://127.0.0.1:8001'])),
  },
  test: { environment: 'jsdom', include: ['src/**/*.test.{ts,tsx}'], setupFiles: ['src/test-setup.ts'] },
});
