/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Everything the Django app serves; `npm run dev` forwards it to `manage.py runserver` (or `demo`).
const BACKEND = "http://127.0.0.1:8000";
const proxied = ["/api", "/login", "/logout", "/admin", "/static", "/metrics"];

export default defineConfig(({ command }) => ({
  // Django serves the built files under its static prefix and index.html itself for every app route.
  base: command === "build" ? "/static/app/" : "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((prefix) => [prefix, { target: BACKEND, changeOrigin: false }])),
      "/ws": { target: BACKEND, ws: true, changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    restoreMocks: true,
  },
}));
