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
const COLS = ["sym", "ref", "ceil", "floor", "bid book", "bidv book vol", "last", "chg", "pct",
  "ask book", "askv book vol", "vol", "fxb fx", "fxs fx"];
const rows = new Map();

function rowFor(symbol) {
  let row = rows.get(symbol);
  if (row) return row;
  const tr = document.createElement("tr");
  tr.dataset.symbol = symbol;
  const cells = {};
  for (const c of COLS) {
    const td = document.createElement("td");
    td.className = c.split(" ").filter((x) => !["bid", "bidv", "ask", "askv", "chg", "pct", "fxb", "fxs"].includes(x)).join(" ");
    tr.append(td);
    cells[c.split(" ")[0]] = td;
  }
  $("rows").append(tr);
  row = { tr, cells, last: null };
  rows.set(symbol, row);
  return row;
}

function renderQuote(q) {
  const row = rowFor(q.symbol);
  const c = row.cells;
  setText(c.sym, q.symbol, tone(q.last, q));
  setText(c.ref, price(q.reference));
  setText(c.ceil, price(q.ceiling));
  setText(c.floor, price(q.floor));
  const bid = q.bids[0], ask = q.asks[0];
  setText(c.bid, bid ? price(bid.price) : "", bid ? tone(bid.price, q) : "");
  setText(c.bidv, bid ? nf.format(bid.volume) : "");
  setText(c.ask, ask ? price(ask.price) : "", ask ? tone(ask.price, q) : "");
  setText(c.askv, ask ? nf.format(ask.volume) : "");
  // During ATO/ATC no trade prints: show what the auction would match now.
  const a = q.auction;
  const t = tone(a ? a.price : q.last, q);
  setText(c.last, a ? price(a.price) : price(q.last), t);
  c.last.classList.toggle("proj", Boolean(a));
  c.last.title = a ? `dự kiến khớp ${price(a.price)} × ${nf.format(a.volume)}` : "";
  setText(c.chg, signed((q.change / 1000).toFixed(2), q.change), t);
  setText(c.pct, signed(pct(q.change, q.reference).toFixed(2) + "%", q.change), t);
  setText(c.vol, a ? `${nf.format(q.totalVolume)} (+${nf.format(a.volume)})` : nf.format(q.totalVolume));
  setText(c.fxb, nf.format(q.foreignBuy));
  setText(c.fxs, nf.format(q.foreignSell));
  if (row.last !== null && row.last !== q.last) {
    flash(c.last, q.last > row.last);
    flash(c.sym, q.last > row.last);
  }
  row.last = q.last;
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
function render(snap) {
  snapshots += 1;
  lastAt = Date.now();
  for (const q of snap.quotes) renderQuote(q);
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

await init();
const client = new MarketClient(wsUrl);
client.onStatus((s) => { status = s; renderStatus(); });
client.onSnapshot(render);
setInterval(renderStatus, 100);
// For debugging from the console and for the browser checks.
window.marketfeedBoard = { client, get snapshots() { return snapshots; } };
