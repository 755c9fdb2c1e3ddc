// webpack 5 with async WebAssembly: the bundler package's .wasm import is
// loaded by webpack itself. TypeScript is compiled by tsc first (build/).
import HtmlWebpackPlugin from "html-webpack-plugin";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export default {
  entry: "./build/main.js",
  output: { path: resolve(here, "dist"), publicPath: "auto", clean: true },
  experiments: { asyncWebAssembly: true },
  plugins: [new HtmlWebpackPlugin({ template: "./index.html" })],
  performance: { hints: false },
};
