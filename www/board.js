// The live VN30 board. Imports the wasm client exactly as an app would.
import init, { MarketClient } from "./pkg/marketfeed_web_client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// ?ws=URL overrides the feed address; ?token=T is passed on to the feed
// (servers started with authentication read it from the query).
const wsUrl = (() => {
  const url = new URL(params.get("ws") ??
    `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/market`);
  if (params.has("token")) url.searchParams.set("token", params.get("token"));
  return url.href;
})();

// ---- formatting -----------------------------------------------------------
const nf = new Intl.NumberFormat("en-US");
const price = (vnd) => (vnd / 1000).toFixed(2);           // 24700 -> "24.70"
const signed = (s, v) => (v > 0 ? "+" : "") + s;
const points = (h) => (h / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const billions = (vnd) => (vnd / 1e9).toLocaleString("en-US", { maximumFractionDigits: 1 });
const pct = (change, ref) => (ref ? (change / ref) * 100 : 0);

/** Vietnamese colour class of `p` in a quote's band. */
function tone(p, q) {
  if (!p) return "";
  if (p >= q.ceiling) return "c-ceil";
  if (p <= q.floor) return "c-floor";
  if (p === q.reference) return "c-ref";
  return p > q.reference ? "c-up" : "c-down";
}
const signTone = (v) => (v > 0 ? "c-up" : v < 0 ? "c-down" : "c-ref");

function setText(el, text, cls) {
  if (el.textContent !== text) el.textContent = text;
  const want = cls ?? "";
  if (el.dataset.tone !== want) {
    if (el.dataset.tone) el.classList.remove(el.dataset.tone);
    if (want) el.classList.add(want);
    el.dataset.tone = want;
  }
}

function flash(el, up) {
  el.animate(
    [{ backgroundColor: up ? "rgba(47,224,122,.45)" : "rgba(255,77,79,.45)" }, { backgroundColor: "transparent" }],
    { duration: 700, easing: "ease-out" },
  );
}

// ---- rows -----------------------------------------------------------------
// HOSE layout: the three best bids (Giá 3 … Giá 1, outermost first), the
// match, the three best asks (Giá 1 … Giá 3). Rows are rendered from
// `onQuote` (only quotes that changed in the tick), and within a row only
// the cells whose text changed flash.
const LEVELS = 3;
const COLS = ["sym", "ref", "ceil", "floor",
  ...[3, 2, 1].flatMap((i) => [`b${i} book`, `bv${i} book vol`]),
  "last", "chg", "pct",
  ...[1, 2, 3].flatMap((i) => [`a${i} book`, `av${i} book vol`]),
  "vol", "fxb fx", "fxs fx"];
const rows = new Map();

function rowFor(symbol) {
  let row = rows.get(symbol);
  if (row) return row;
  const tr = document.createElement("tr");
  tr.dataset.symbol = symbol;
  const cells = {};
  for (const c of COLS) {
    const [key, ...classes] = c.split(" ");
    const td = document.createElement("td");
    td.className = (["sym", "ref", "ceil", "floor", "last", "vol"].includes(key) ? [key, ...classes] : classes).join(" ");
    td.dataset.col = key;
    tr.append(td);
    cells[key] = td;
  }
  $("rows").append(tr);
  row = { tr, cells, filled: false };
  rows.set(symbol, row);
  return row;
}

/** Sets a cell; a changed text flashes it (green up, red down) once the row was filled. */
function cell(row, key, text, cls, dir) {
  const el = row.cells[key];
  const changed = el.textContent !== text;
  setText(el, text, cls);
  if (changed && row.filled) flash(el, dir);
}

function renderQuote(q) {
  const row = rowFor(q.symbol);
  const prev = row.quote;
  const dir = prev ? q.last >= prev.last : true;
  cell(row, "sym", q.symbol, tone(q.last, q), dir);
  cell(row, "ref", price(q.reference));
  cell(row, "ceil", price(q.ceiling));
  cell(row, "floor", price(q.floor));
  for (let i = 1; i <= LEVELS; i++) {
    const bid = q.bids[i - 1], ask = q.asks[i - 1];
    const pb = prev?.bids[i - 1], pa = prev?.asks[i - 1];
    cell(row, `b${i}`, bid ? price(bid.price) : "", bid ? tone(bid.price, q) : "", !pb || (bid && bid.price >= pb.price));
    cell(row, `bv${i}`, bid ? nf.format(bid.volume) : "", "", !pb || (bid && bid.volume >= pb.volume));
    cell(row, `a${i}`, ask ? price(ask.price) : "", ask ? tone(ask.price, q) : "", !pa || (ask && ask.price >= pa.price));
    cell(row, `av${i}`, ask ? nf.format(ask.volume) : "", "", !pa || (ask && ask.volume >= pa.volume));
  }
  // During ATO/ATC no trade prints: show what the auction would match now.
  const a = q.auction;
  const t = tone(a ? a.price : q.last, q);
  cell(row, "last", a ? price(a.price) : price(q.last), t, dir);
  row.cells.last.classList.toggle("proj", Boolean(a));
  row.cells.last.title = a ? `dự kiến khớp ${price(a.price)} × ${nf.format(a.volume)}` : "";
  cell(row, "chg", signed((q.change / 1000).toFixed(2), q.change), t, dir);
  cell(row, "pct", signed(pct(q.change, q.reference).toFixed(2) + "%", q.change), t, dir);
  cell(row, "vol", a ? `${nf.format(q.totalVolume)} (+${nf.format(a.volume)})` : nf.format(q.totalVolume), "", true);
  cell(row, "fxb", nf.format(q.foreignBuy), "", true);
  cell(row, "fxs", nf.format(q.foreignSell), "", true);
  row.quote = q;
  row.filled = true;
  quotesRendered += 1;
}

/** Keeps exactly the snapshot's symbols as rows, in its order. */
function syncRows(quotes) {
  const want = new Set(quotes.map((q) => q.symbol));
  for (const [symbol, row] of rows) {
    if (!want.has(symbol)) { row.tr.remove(); rows.delete(symbol); }
  }
  const body = $("rows");
  const order = [...body.children].map((tr) => tr.dataset.symbol);
  if (order.length !== quotes.length || quotes.some((q, i) => order[i] !== q.symbol)) {
    for (const q of quotes) body.append(rowFor(q.symbol).tr);
  }
}

// ---- header ---------------------------------------------------------------
const indexCards = new Map();
function renderIndex(ix) {
  let card = indexCards.get(ix.code);
  if (!card) {
    const el = document.createElement("div");
    el.className = "card";
    el.dataset.index = ix.code;
    el.innerHTML = '<span class="label"></span><span class="v"></span><span class="d"></span>';
    el.querySelector(".label").textContent = ix.code;
    $("indices").append(el);
    card = { v: el.querySelector(".v"), d: el.querySelector(".d"), value: null };
    indexCards.set(ix.code, card);
  }
  const t = signTone(ix.change);
  setText(card.v, points(ix.value), t);
  setText(card.d, `${signed(points(ix.change), ix.change)} (${signed(pct(ix.change, ix.reference).toFixed(2), ix.change)}%) · ${billions(ix.totalValue)} tỷ`, t);
  if (card.value !== null && card.value !== ix.value) flash(card.v, ix.value > card.value);
  card.value = ix.value;
}

const PHASES = {
  preOpen: "Chưa mở cửa", openingAuction: "ATO", continuous: "Khớp lệnh liên tục",
  lunchBreak: "Nghỉ trưa", closingAuction: "ATC", putThrough: "Thỏa thuận", closed: "Đóng cửa",
};

let lastAt = 0;
let snapshots = 0;
let quotesRendered = 0;
function render(snap) {
  snapshots += 1;
  lastAt = Date.now();
  // Quotes were rendered by onQuote, just before this snapshot.
  syncRows(snap.quotes);
  for (const ix of snap.indices) renderIndex(ix);
  const f = snap.foreign;
  setText($("f-buy"), `${billions(f.buyValue)} tỷ`, "c-up");
  setText($("f-sell"), `${billions(f.sellValue)} tỷ`, "c-down");
  setText($("f-net"), `${signed(billions(f.netValue), f.netValue)} tỷ`, signTone(f.netValue));
  const stale = snap.stale ? " · dữ liệu cũ" : "";
  setText($("phase"), `${PHASES[snap.phase] ?? snap.phase} · #${snap.seq}${stale}`, snap.stale ? "stale" : "");
  document.body.dataset.phase = snap.phase;
  document.body.dataset.seq = String(snap.seq);
  document.body.dataset.snapshots = String(snapshots);
}

// ---- connection badge + age ----------------------------------------------
let status = null;
function renderStatus() {
  const badge = $("badge");
  if (status) {
    badge.dataset.state = status.state;
    let text = status.state;
    if (status.state === "reconnecting") {
      if (status.waitingForNetwork) text = "offline · waiting for network";
      else if (status.nextAttemptAt !== null) {
        const s = Math.max(0, (status.nextAttemptAt - Date.now()) / 1000);
        text = `reconnecting in ${s.toFixed(1)} s · attempt ${status.attempt}`;
      }
    } else if (status.state === "connecting" && status.attempt > 0) {
      text = `connecting · attempt ${status.attempt}`;
    }
    if (badge.textContent !== text) badge.textContent = text;
    badge.title = [status.closeCode !== null ? `last close ${status.closeCode} ${status.closeReason ?? ""}` : "",
      status.error ?? ""].filter(Boolean).join(" · ");
  }
  const age = $("age");
  if (lastAt) {
    const s = (Date.now() - lastAt) / 1000;
    age.textContent = s < 60 ? `${s.toFixed(1)} s ago` : `${Math.floor(s / 60)} min ago`;
    age.classList.toggle("stale", s > 5);
  }
}

// ---- watchlist ------------------------------------------------------------
// ?symbols=FPT,VNM starts with a watchlist; the form changes it with
// subscribe / unsubscribe (the client repeats it after every reconnect).
const parseSymbols = (text) => [...new Set(text.toUpperCase().split(/[\s,;]+/).filter(Boolean))];
let universe = [];
function applyWatchlist(wanted) {
  const note = $("watch-note");
  setText(note, "", "");
  const target = wanted.length ? wanted : universe;
  const current = client.symbols ?? universe;
  const add = target.filter((s) => !current.includes(s));
  const drop = current.filter((s) => !target.includes(s));
  if (client.symbols === undefined && wanted.length) {
    client.subscribe(target); // the first subscribe narrows "every symbol"
  } else {
    if (add.length) client.subscribe(add);
    if (drop.length) client.unsubscribe(drop);
  }
  const url = new URL(location.href);
  if (wanted.length) url.searchParams.set("symbols", wanted.join(","));
  else url.searchParams.delete("symbols");
  history.replaceState(null, "", url);
}

await init();
const initial = parseSymbols(params.get("symbols") ?? "");
// The default format: marketfeed.v2.bin, keyframes and deltas.
const client = new MarketClient(wsUrl, initial.length ? { symbols: initial } : {});
$("watch").value = initial.join(", ");
client.onStatus((s) => { status = s; renderStatus(); });
client.onHello((h) => { universe = h.symbols; });
client.onQuote(renderQuote);
client.onSnapshot(render);
client.onServerError((e) => {
  if (e.code === "unknownSymbol" || e.code === "tooManySymbols") setText($("watch-note"), e.message, "error");
});
$("watch-form").addEventListener("submit", (e) => {
  e.preventDefault();
  applyWatchlist(parseSymbols($("watch").value));
});
$("watch-all").addEventListener("click", () => {
  $("watch").value = "";
  applyWatchlist([]);
});
setInterval(renderStatus, 100);
// For debugging from the console and for the browser checks.
window.marketfeedBoard = {
  client,
  get snapshots() { return snapshots; },
  get quotesRendered() { return quotesRendered; },
};
