//! Giving freed heap back to the operating system after connection bursts.
//!
//! Each handshake briefly allocates hyper's connection buffers (several KiB)
//! which are freed once the socket is upgraded. After a burst — thousands of
//! browsers reconnecting at once after a restart — glibc keeps those freed
//! pages mapped between the long-lived per-client allocations, so the
//! process's RSS would stay at the burst's peak. `malloc_trim` returns the
//! whole free pages to the kernel.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::fanout::hub::Hub;

/// How often the trimmer looks for new connections.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Trims the heap once connections have come (or gone) since the last look.
pub async fn run_trimmer(hub: Hub, cancel: CancellationToken) {
    let mut seen = (hub.connections(), hub.client_count());
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = (hub.connections(), hub.client_count());
        if now != seen {
            seen = now;
            release_free_heap();
        }
    }
}

/// Returns free heap pages to the OS (glibc only; a no-op elsewhere).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_heap() {
    // SAFETY: malloc_trim takes no pointers and has no preconditions; it
    // only releases memory the allocator itself holds as free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns free heap pages to the OS (glibc only; a no-op elsewhere).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_heap() {}
