//! Operating the server: what the operator sets, what the server reports,
//! and its upkeep.
//!
//! - [`config`]: flags and `MARKETFEED_*` environment, each default
//!   written once in `config::defaults`; the `token` subcommand's flags.
//! - [`config_file`]: `--config PATH` (TOML keyed by the flags' names,
//!   below flags and environment) and `config check`.
//! - [`metrics`]: the Prometheus registry behind `GET /metrics`.
//! - [`readiness`]: what `GET /readyz` answers, and the feed's health the
//!   ticker publishes for it and the metrics.
//! - [`memory`]: gives heap freed after connection bursts back to the OS.

pub mod config;
pub mod config_file;
pub mod memory;
pub mod metrics;
pub mod readiness;
