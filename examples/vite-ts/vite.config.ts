// Relative asset paths, so the built app works from any directory.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: { target: "es2022" },
});
