// Checks in Debian's Chromium that the browser negotiates permessage-deflate
// with the real server and still receives snapshots.
//
//   SERVER_URL=http://127.0.0.1:PORT/ node deflate.check.mjs
//
// The page opens a plain WebSocket to /ws/market: `extensions` must name
// permessage-deflate with both no-context-takeover parameters, snapshots
// must parse with a rising seq, and the server's /metrics must count the
// browser among its deflate clients and show snapshots compressed. Prints
// one "N passed, N failed" line and exits non-zero on any failure.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";

const SERVER_URL = process.env.SERVER_URL;
if (!SERVER_URL) {
  console.error("SERVER_URL must be set (see scripts/test-browser.sh)");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ??
  execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"]).toString().trim();
const wsUrl = new URL("/ws/market", SERVER_URL).href.replace(/^http/, "ws");
const metric = (text, name) => {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
};

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
  timeout: 30_000,
});
const timer = setTimeout(() => { console.log("FAIL deflate check: overall timeout"); process.exit(1); }, 60_000);
let passed = 0, failed = 0;
try {
  const page = await browser.newPage();
  await page.goto(new URL("/healthz", SERVER_URL).href);
  // Opened from the page and left open while the metrics are read.
  const got = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    window.deflateWs = ws;
    const seqs = [];
    const extensions = await new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws.extensions);
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${seqs.length} snapshots`)), 10_000);
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === "snapshot") seqs.push(m.seq);
        if (seqs.length >= 3) { clearTimeout(t); resolve(); }
      };
    });
    return { extensions, seqs };
  }, wsUrl);
  const checks = [
    ["the browser negotiated permessage-deflate", () => {
      for (const p of ["permessage-deflate", "server_no_context_takeover", "client_no_context_takeover"]) {
        if (!got.extensions.includes(p)) throw new Error(`extensions: ${JSON.stringify(got.extensions)}`);
      }
    }],
    ["snapshots arrive and parse, seq rising", () => {
      if (!got.seqs.every((s, i) => i === 0 || s > got.seqs[i - 1])) throw new Error(`seqs ${got.seqs}`);
    }],
  ];
  const text = await (await fetch(new URL("/metrics", SERVER_URL))).text();
  checks.push(["the server counts a deflate client and compressed snapshots", () => {
    const clients = metric(text, "marketfeed_deflate_clients");
    const deflations = metric(text, "marketfeed_deflations_total");
    if (!(clients >= 1) || !(deflations >= 1)) throw new Error(`deflate_clients ${clients}, deflations ${deflations}`);
  }]);
  for (const [name, fn] of checks) {
    try { fn(); passed++; console.log(`ok   ${name}`); }
    catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
  }
  console.log(`extensions: ${got.extensions}; seqs ${got.seqs.join(",")}`);
} catch (e) {
  failed++;
  console.log(`FAIL deflate check: ${e.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
