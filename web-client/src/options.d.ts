// Generated from marketfeed-web-client's option_names.rs by web-client/tests/typescript.rs: do not edit.

export type MarketClientOptions = { 
/**
 * Upper bound of the first reconnect delay (default 500).
 */
initialDelayMs?: number, 
/**
 * Cap on the reconnect delay window (default 20000).
 */
maxDelayMs?: number, 
/**
 * Growth of the delay window per attempt (default 2).
 */
multiplier?: number, 
/**
 * A connection open this long resets the attempt count (default 10000).
 */
resetAfterMs?: number, 
/**
 * Stop after this many consecutive failed attempts (default: never).
 */
maxAttempts?: number | null, 
/**
 * Opening the socket and receiving `hello` may take this long (default 10000).
 */
connectTimeoutMs?: number, 
/**
 * Longest expected silence (default: the server's `heartbeatIntervalMs`, or 30000 when 0).
 */
livenessIntervalMs?: number, 
/**
 * Extra silence tolerated before reconnecting (default 5000).
 */
livenessGraceMs?: number, 
/**
 * App-level ping interval (default: half the liveness interval).
 */
pingIntervalMs?: number, 
/**
 * A tab hidden this long checks the link when shown again (default 10000).
 */
hiddenCheckAfterMs?: number, 
/**
 * How long that check waits for a message (default 3000).
 */
probeTimeoutMs?: number, 
/**
 * Token for a server with authentication, sent as the `token` query parameter.
 */
token?: string, 
/**
 * Called (and awaited) before every connect attempt for a fresh token; a
 * throw or rejection fails that attempt, is reported in `status.error` as
 * `getToken failed: …`, and is retried with backoff. Exclusive with `token`.
 */
getToken?: () => string | Promise<string>, 
/**
 * Wire format: `"binary"` (default, `marketfeed.v2.bin`), `"json"`
 * (`marketfeed.v2.json`) or `"full-json"` (`marketfeed.v1.json`, a full
 * snapshot every tick). Whatever the format, snapshots have the same shape.
 */
format?: "binary" | "json" | "full-json", 
/**
 * Receive quotes only for these symbols (default: every symbol); sent
 * after every `hello`, changed with `subscribe` / `unsubscribe`.
 */
symbols?: Array<string>, };
