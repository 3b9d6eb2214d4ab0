import { defineConfig } from 'vite'

// The web chat (web/) is built into dist/web, which plugins/web.ts serves at `/`. Preact's JSX, no plugin needed.
export default defineConfig({
  root: 'web',
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022', reportCompressedSize: false }
})
