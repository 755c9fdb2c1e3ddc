// Checks the example apps under examples/ in Debian's Chromium against the
// real server, which serves their built output (scripts/test-browser.sh
// gathers it into one --www-dir):
//
//   EXAMPLES_URL=http://127.0.0.1:PORT/ EXAMPLES="plain-html vite-ts webpack" node examples.check.mjs
//
// Each app must show the connection state "open" (#state) and a snapshot
// seq (#seq) that advances, with quotes rendered (#quotes rows) and no page
// error. Saves screenshots to tests/artifacts/. Prints one
// "N passed, N failed" line and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, "..", "artifacts");
mkdirSync(artifacts, { recursive: true });
const BASE = process.env.EXAMPLES_URL;
const EXAMPLES = (process.env.EXAMPLES ?? "").split(/\s+/).filter(Boolean);
if (!BASE || EXAMPLES.length === 0) {
  console.error("EXAMPLES_URL and EXAMPLES must be set (see scripts/test-browser.sh)");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ??
  execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"]).toString().trim();

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
  timeout: 30_000,
});
const timer = setTimeout(() => { console.log("FAIL examples check: overall timeout"); process.exit(1); }, 120_000);
let passed = 0;
let failed = 0;
try {
  for (const name of EXAMPLES) {
    const t0 = Date.now();
    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    // Failed requests are reported with their URL by the response handler.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console: ${m.text()}`);
    });
    page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
    try {
      await page.goto(new URL(`${name}/`, BASE).href);
      await page.waitForFunction(() => document.getElementById("state")?.textContent === "open");
      const seqOf = () => page.$eval("#seq", (e) => Number(e.textContent));
      await page.waitForFunction(() => Number.isInteger(Number(document.getElementById("seq")?.textContent)));
      const first = await seqOf();
      await page.waitForFunction(
        (s) => Number(document.getElementById("seq")?.textContent) > s, first);
      const later = await seqOf();
      const rows = await page.$$eval("#quotes tr", (r) => r.length);
      if (rows === 0) throw new Error("no quotes rendered");
      if (errors.length) throw new Error(errors.join("; "));
      await page.screenshot({ path: join(artifacts, `example-${name}.png`) });
      console.log(`ok   ${name}: state open, seq ${first} -> ${later}, ${rows} quotes (${Date.now() - t0} ms)`);
      passed++;
    } catch (e) {
      await page.screenshot({ path: join(artifacts, `example-${name}-failed.png`) }).catch(() => {});
      console.log(`FAIL ${name}: ${e.message}${errors.length ? ` [${errors.join("; ")}]` : ""}`);
      failed++;
    } finally {
      await page.close();
    }
  }
} finally {
  clearTimeout(timer);
  await browser.close();
}
console.log(`examples: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
