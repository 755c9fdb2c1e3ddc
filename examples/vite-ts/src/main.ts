// Live snapshots and the connection state, from the bundler package as an
// npm user installs it (`npm install marketfeed-web-client`).
import { MarketClient } from "marketfeed-web-client";
import type { MarketSnapshot, StatusEvent } from "marketfeed-web-client";

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
const client = new MarketClient(`${scheme}://${location.host}/ws/market`, { maxDelayMs: 10_000 });
// Keep a reference while in use: a garbage-collected client is closed.
(window as unknown as { client: MarketClient }).client = client;

client.onStatus((s: StatusEvent) => {
  byId("state").textContent = s.state;
});
client.onSnapshot((snap: MarketSnapshot) => {
  byId("seq").textContent = String(snap.seq);
  const rows = snap.quotes.slice(0, 10).map((q) => {
    const tr = document.createElement("tr");
    for (const v of [q.symbol, q.last.toFixed(2), q.change.toFixed(2)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  });
  byId("quotes").replaceChildren(...rows);
});
