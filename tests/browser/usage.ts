// Type-checks the generated .d.ts (web-client/pkg, built by
// scripts/build-wasm.sh) the way an application uses it. Never run.
import {
  MarketClient,
  type ConnectionState,
  type GapEvent,
  type Hello,
  type MarketClientOptions,
  type MarketSnapshot,
  type Quote,
  type ServerError,
  type StatusEvent,
  type Subscribed,
} from "../../web-client/pkg/marketfeed_web_client";

const options: MarketClientOptions = {
  initialDelayMs: 500,
  maxDelayMs: 20_000,
  multiplier: 2,
  resetAfterMs: 10_000,
  maxAttempts: null,
  connectTimeoutMs: 10_000,
  livenessIntervalMs: 30_000,
  livenessGraceMs: 5_000,
  pingIntervalMs: 15_000,
  hiddenCheckAfterMs: 10_000,
  probeTimeoutMs: 3_000,
  format: "binary",
  symbols: ["FPT", "VNM"],
};
const client = new MarketClient("ws://127.0.0.1:8080/ws/market", options);
new MarketClient("ws://127.0.0.1:8080/ws/market");
// The edges of one publisher: failover among them.
new MarketClient(["ws://10.0.0.1:8080/ws/market", "ws://10.0.0.2:8080/ws/market"], options);
new MarketClient("ws://127.0.0.1:8080/ws/market", { format: "json" });
new MarketClient("ws://127.0.0.1:8080/ws/market", { format: "full-json" });

client.onSnapshot((snap: MarketSnapshot) => {
  const seq: number = snap.seq;
  const q: Quote = snap.quotes[0];
  const atCeiling: boolean = q.last >= q.ceiling;
  const bid: number = q.bids[0].price;
  const net: number = snap.foreign.netValue;
  const vnIndex: number | undefined = snap.indices.find((i) => i.code === "VNINDEX")?.value;
  const phase: "continuous" | string = snap.phase;
  void [seq, atCeiling, bid, net, vnIndex, phase];
});
client.onStatus((s: StatusEvent) => {
  const state: ConnectionState = s.state;
  const wait: number | null = s.delayMs;
  const at: number | null = s.nextAttemptAt;
  const code: number | null = s.closeCode;
  const why: string | null = s.closeReason ?? s.error;
  const offline: boolean = s.waitingForNetwork;
  const attempt: number = s.attempt;
  void [state, wait, at, code, why, offline, attempt];
});
client.onGap((g: GapEvent) => void [g.expected, g.received, g.missed, g.gapCount]);
client.onHello((h: Hello) => void [h.protocolVersion, h.heartbeatIntervalMs, h.tickIntervalMs, h.symbols]);
const onError = (e: ServerError) => void [e.code, e.message];
client.onServerError(onError);
const removed: boolean = client.off(onError);
client.onQuote((q: Quote) => void [q.symbol, q.last, q.bids[2]?.volume, q.asks.length]);
client.onSubscribed((s: Subscribed) => {
  const symbols: string[] = s.symbols;
  void symbols;
});
client.subscribe(["HPG"]);
client.unsubscribe(["VNM"]);
const watched: string[] | undefined = client.symbols;
const format: "binary" | "json" | "full-json" = client.format;
void [watched, format];

const state: ConnectionState = client.state;
const status: StatusEvent = client.status;
const lastSeq: number | undefined = client.lastSeq;
const last: MarketSnapshot | undefined = client.lastSnapshot;
const attempts: number = client.reconnectAttempts;
const gaps: number = client.gapCount;
client.close();
void [removed, state, status, lastSeq, last, attempts, gaps];

// The types are precise, not `any`:
// @ts-expect-error: a status is not a snapshot
client.onSnapshot((s: StatusEvent) => s);
// @ts-expect-error: unknown state
const bad: ConnectionState = "connected";
// @ts-expect-error: options are numbers
new MarketClient("ws://x", { initialDelayMs: "500" });
// @ts-expect-error: URLs are strings
new MarketClient([1, 2]);
// @ts-expect-error: the getter is read-only
client.state = "open";
// @ts-expect-error: an unknown format
new MarketClient("ws://x", { format: "protobuf" });
// @ts-expect-error: symbols are an array
client.subscribe("FPT");
// @ts-expect-error: a quote listener gets a quote
client.onQuote((s: StatusEvent) => s);
void bad;
