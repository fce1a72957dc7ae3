import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The hub serves dist/ from its own origin; `npm run dev` proxies the API to a local hub.
export default defineConfig({
  plugins: [preact()],
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3001',
      '/ws': { target: 'ws://127.0.0.1:3001', ws: true },
    },
  },
  test: { environment: 'jsdom', include: ['src/**/*.test.ts'] },
});
