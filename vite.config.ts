import { defineConfig } from 'vite';

// The renderer: built once into dist/renderer, loaded by Electron from file:// and served by
// `tessera serve` — so every asset path is relative.
export default defineConfig({
  root: 'src/renderer',
  base: './',
  build: {
    outDir: '../../dist/renderer',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
});
