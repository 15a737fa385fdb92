import { defineConfig } from "vite";

// Built to webui/dist, which `loupe serve` serves; the API is same-origin under /api.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": "http://127.0.0.1:7071" } },
});
