//! Operating the server: its settings, its metrics, its memory upkeep.

pub mod config;
pub mod memory;
pub mod metrics;
