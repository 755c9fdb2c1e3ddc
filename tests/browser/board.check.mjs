// Checks the live board in Debian's Chromium against the real server.
//
//   BOARD_URL=http://127.0.0.1:PORT/ CONTROL_URL=http://127.0.0.1:CPORT node board.check.mjs
//
// The server runs under supervisor.mjs (CONTROL_URL) serving www/. Saves
// screenshots to tests/artifacts/. Prints one "N passed, N failed" line and
// exits non-zero on any failure.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, "..", "artifacts");
mkdirSync(artifacts, { recursive: true });
const BOARD_URL = process.env.BOARD_URL;
const CONTROL_URL = process.env.CONTROL_URL;
if (!BOARD_URL || !CONTROL_URL) {
  console.error("BOARD_URL and CONTROL_URL must be set (see scripts/test-browser.sh)");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ??
  execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"]).toString().trim();

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
const control = async (path) => {
  const r = await fetch(CONTROL_URL + path);
  const body = await r.json();
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body;
};

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
  timeout: 30_000,
});
const timer = setTimeout(() => { console.log("FAIL board check: overall timeout"); process.exit(1); }, 120_000);
let exitCode = 1;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(10_000);
  const errors = [];
  let restarting = false;
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // Chromium reports refused WebSocket handshakes on the console; they are
    // expected while the server is down, and nowhere else.
    if (restarting && /^WebSocket connection to .* failed/.test(m.text())) return;
    errors.push(`console: ${m.text()}`);
  });
  const seq = () => page.evaluate(() => Number(document.body.dataset.snapshots ?? 0));
  const badge = () => page.locator("#badge").getAttribute("data-state");

  // Records every flashed table cell (board.js flashes with el.animate).
  await page.addInitScript(() => {
    window.__flashed = [];
    const animate = Element.prototype.animate;
    Element.prototype.animate = function (...args) {
      if (this.tagName === "TD") window.__flashed.push(this);
      return animate.apply(this, args);
    };
  });
  await page.goto(BOARD_URL);

  await check("30 VN30 rows filled and the badge shows open", async () => {
    await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 30);
    await page.waitForSelector('#badge[data-state="open"]');
    const empty = await page.$$eval("#rows td.last", (tds) => tds.filter((td) => !td.textContent.trim()).length);
    if (empty) throw new Error(`${empty} rows without a last price`);
    const indices = await page.$$eval("#indices .card", (c) => c.map((e) => e.dataset.index));
    if (indices.length !== 4) throw new Error(`indices: ${indices}`);
  });

  await check("three best bid and ask levels as on HOSE boards (Giá 1–3 / KL 1–3 each side)", async () => {
    const heads = await page.$$eval("thead tr:last-child th", (ths) => ths.map((th) => th.textContent.trim()));
    const want = ["Giá 3", "KL 3", "Giá 2", "KL 2", "Giá 1", "KL 1", "Giá", "+/−", "%", "Giá 1", "KL 1", "Giá 2", "KL 2", "Giá 3", "KL 3"];
    if (heads.join("|") !== want.join("|")) throw new Error(`headers: ${heads}`);
    const groups = await page.$$eval("thead tr.groups th", (ths) => ths.map((th) => th.textContent.trim()));
    if (!groups.includes("Bên mua") || !groups.includes("Bên bán")) throw new Error(`groups: ${groups}`);
    // Every row has 12 book cells, and the board's book equals the client's.
    const bad = await page.evaluate(() => {
      const snap = window.marketfeedBoard.client.lastSnapshot;
      const p = (v) => (v / 1000).toFixed(2);
      return snap.quotes.filter((q) => {
        const tr = document.querySelector(`#rows tr[data-symbol="${q.symbol}"]`);
        if (!tr || tr.querySelectorAll("td.book").length !== 12) return true;
        const txt = (col) => tr.querySelector(`td[data-col="${col}"]`).textContent;
        return [1, 2, 3].some((i) => txt(`b${i}`) !== (q.bids[i - 1] ? p(q.bids[i - 1].price) : "")
          || txt(`a${i}`) !== (q.asks[i - 1] ? p(q.asks[i - 1].price) : ""));
      }).map((q) => q.symbol);
    });
    if (bad.length) throw new Error(`book differs from the client's snapshot on ${bad}`);
    const full = await page.$$eval("#rows tr", (trs) => trs.filter((tr) =>
      ["b3", "a3"].every((c) => tr.querySelector(`td[data-col="${c}"]`).textContent !== "")).length);
    if (full === 0) throw new Error("no row shows a third level");
  });

  await check("the board uses the binary format and flashes only the cells that changed", async () => {
    const format = await page.evaluate(() => window.marketfeedBoard.client.format);
    if (format !== "binary") throw new Error(`format ${format}`);
    const ticks = await page.evaluate(async () => {
      const board = window.marketfeedBoard;
      const texts = () => new Map([...document.querySelectorAll("#rows td")].map((td) => [td, td.textContent]));
      const out = [];
      for (let k = 0; k < 12 && out.length < 6; k++) {
        const n = board.snapshots;
        const before = texts();
        window.__flashed = [];
        const quotes0 = board.quotesRendered;
        while (board.snapshots === n) await new Promise((r) => setTimeout(r, 5));
        if (board.snapshots !== n + 1) continue; // two ticks in one wait: skip
        const after = texts();
        const flashed = new Set(window.__flashed);
        const changed = [...after.keys()].filter((td) => before.get(td) !== after.get(td));
        out.push({
          cells: after.size,
          quotes: board.quotesRendered - quotes0,
          changed: changed.length,
          flashedUnchanged: [...flashed].filter((td) => before.get(td) === after.get(td)).length,
          changedNotFlashed: changed.filter((td) => !flashed.has(td)).length,
        });
      }
      return out;
    });
    if (ticks.length < 3) throw new Error(`only ${ticks.length} ticks observed`);
    for (const t of ticks) {
      if (t.flashedUnchanged) throw new Error(`a cell flashed without changing: ${JSON.stringify(t)}`);
      if (t.changedNotFlashed) throw new Error(`a changed cell did not flash: ${JSON.stringify(t)}`);
    }
    if (!ticks.some((t) => t.changed > 0)) throw new Error(`nothing changed: ${JSON.stringify(ticks)}`);
    if (!ticks.every((t) => t.changed < t.cells && t.quotes < 30)) throw new Error(`every cell changed: ${JSON.stringify(ticks)}`);
    console.log(`     per tick: ${ticks.map((t) => `${t.quotes} quotes, ${t.changed} cells`).join("; ")}`);
  });

  const boardSymbols = () => page.$$eval("#rows tr", (trs) => trs.map((tr) => tr.dataset.symbol));
  await check("watchlist filter subscribes to its symbols", async () => {
    await page.fill("#watch", "vnm, fpt");
    await page.press("#watch", "Enter");
    await page.waitForFunction(() => [...document.querySelectorAll("#rows tr")].map((tr) => tr.dataset.symbol).sort().join() === "FPT,VNM");
    const symbols = await page.evaluate(() => window.marketfeedBoard.client.symbols);
    if ([...symbols].sort().join() !== "FPT,VNM") throw new Error(`client.symbols ${symbols}`);
    const quotes = await page.evaluate(() => window.marketfeedBoard.client.lastSnapshot.quotes.map((q) => q.symbol).sort().join());
    if (quotes !== "FPT,VNM") throw new Error(`snapshot quotes ${quotes}`);
    if (!/symbols=/.test(page.url())) throw new Error(`url ${page.url()}`);
    await page.fill("#watch", "FPT, VNM, NOPE");
    await page.press("#watch", "Enter");
    await page.waitForFunction(() => /NOPE/.test(document.getElementById("watch-note").textContent));
    const after = await boardSymbols();
    if ([...after].sort().join() !== "FPT,VNM") throw new Error(`an unknown symbol changed the rows: ${after}`);
  });

  await check("prices update and colours follow the band", async () => {
    const before = await page.$$eval("#rows td.last", (tds) => tds.map((td) => td.textContent));
    const n0 = await seq();
    await page.waitForFunction((n) => Number(document.body.dataset.snapshots) >= n + 5, n0);
    await page.waitForFunction((b) => {
      const now = [...document.querySelectorAll("#rows td.last")].map((td) => td.textContent);
      return now.some((t, i) => t !== b[i]);
    }, before);
    const bad = await page.$$eval("#rows tr", (trs) => trs.filter((tr) => {
      const num = (cls) => Number(tr.querySelector(`td.${cls}`).textContent);
      const last = tr.querySelector("td.last");
      const p = Number(last.textContent), ref = num("ref"), ceil = num("ceil"), floor = num("floor");
      const want = p >= ceil ? "c-ceil" : p <= floor ? "c-floor" : p === ref ? "c-ref" : p > ref ? "c-up" : "c-down";
      return !last.classList.contains(want);
    }).map((tr) => tr.dataset.symbol));
    if (bad.length) throw new Error(`wrong colour on ${bad}`);
    const age = await page.locator("#age").textContent();
    if (!/s ago/.test(age)) throw new Error(`age shows ${age}`);
  });

  await page.screenshot({ path: join(artifacts, "board-1280x800.png") });

  let recoveryMs = null;
  await check("server restart: badge shows reconnecting, board recovers", async () => {
    restarting = true;
    await control("/stop");
    await page.waitForFunction(() => ["reconnecting", "connecting"].includes(document.getElementById("badge").dataset.state));
    await page.waitForFunction(() => /reconnecting in \d+\.\d s/.test(document.getElementById("badge").textContent));
    const text = await page.locator("#badge").textContent();
    await page.screenshot({ path: join(artifacts, "board-reconnecting.png") });
    const n0 = await seq();
    const { startedAt } = await control("/start");
    await page.waitForFunction((n) => Number(document.body.dataset.snapshots) > n, n0, { timeout: 30_000 });
    recoveryMs = Date.now() - startedAt;
    await page.waitForSelector('#badge[data-state="open"]');
    restarting = false;
    console.log(`     badge while down: "${text}"; server up → board updating: ${recoveryMs} ms`);
  });

  await check("the watchlist is kept across the restart; Tất cả shows all 30 again", async () => {
    const kept = await boardSymbols();
    if ([...kept].sort().join() !== "FPT,VNM") throw new Error(`after the restart: ${kept}`);
    await page.click("#watch-all");
    await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 30);
  });

  await check("readable at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth - window.innerWidth,
      table: document.querySelector(".table-wrap").scrollWidth - document.querySelector(".table-wrap").clientWidth,
    }));
    if (overflow.page > 0) throw new Error(`page scrolls sideways by ${overflow.page}px`);
    if (overflow.table > 0) throw new Error(`table needs ${overflow.table}px more`);
    await page.screenshot({ path: join(artifacts, "board-phone.png"), fullPage: false });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await check("no console errors", async () => {
    if (errors.length) throw new Error(errors.join(" | "));
  });
  exitCode = results.every((r) => r.ok) ? 0 : 1;
} catch (e) {
  console.log(`FAIL board check: ${e.stack ?? e}`);
} finally {
  clearTimeout(timer);
  await browser.close().catch(() => {});
}
const passed = results.filter((r) => r.ok).length;
console.log(`board: ${passed} passed, ${results.length - passed} failed`);
process.exit(exitCode);
