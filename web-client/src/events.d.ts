// Generated from marketfeed-web-client's Rust types by web-client/tests/typescript.rs: do not edit.

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export type StatusEvent = { 
/**
 * The state.
 */
state: ConnectionState, 
/**
 * Consecutive reconnect attempts since the last stable connection
 * (0 for the first connection).
 */
attempt: number, 
/**
 * While reconnecting: the delay drawn before the next attempt.
 */
delayMs: number | null, 
/**
 * While reconnecting: when the next attempt starts (the clock passed to
 * [`Machine::handle`], `Date.now()` in the browser).
 */
nextAttemptAt: number | null, 
/**
 * Code of the last close received from the server.
 */
closeCode: number | null, 
/**
 * Reason of the last close received from the server.
 */
closeReason: string | null, 
/**
 * Last error (timeout, socket error, give-up reason).
 */
error: string | null, 
/**
 * Reconnecting, but waiting for the browser to be online again.
 */
waitingForNetwork: boolean, };

export type GapEvent = { 
/**
 * The `seq` that should have come.
 */
expected: number, 
/**
 * The `seq` that came.
 */
received: number, 
/**
 * Snapshots skipped.
 */
missed: number, 
/**
 * Gaps seen so far by this client.
 */
gapCount: number, };

