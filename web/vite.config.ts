// The browser UI's build: React + Vite into web/dist, which `yubin serve` serves at /.
// `@yubin/…` reaches the server's own modules (the shared i18n catalogue; types only
// otherwise), so labels and API shapes are written once.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  resolve: { alias: { '@yubin': fileURLToPath(new URL('../src', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  // `npx vite web` for development next to `yubin serve` on its default port
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
