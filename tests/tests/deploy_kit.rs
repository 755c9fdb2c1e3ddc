//! The operator's kit in `deploy/` against the real server: every metric
//! the Grafana dashboard and the alert rules name is exported by a running
//! server's `/metrics` (with the label values they select), and the systemd
//! unit's limits fit the settings it starts the server with (its flags and
//! the example `deploy/marketfeed.toml` it reads with `--config`).

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use harden::*;

const DASHBOARD: &str = include_str!("../../deploy/grafana-dashboard.json");
const ALERTS: &str = include_str!("../../deploy/alerts.yml");
const UNIT: &str = include_str!("../../deploy/marketfeed.service");
const EXAMPLE_CONFIG: &str = include_str!("../../deploy/marketfeed.toml");

/// Every `marketfeed_…` identifier in `text`, with the `{…}` selector that
/// follows it, if any.
fn metric_refs(text: &str) -> Vec<(String, Option<String>)> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("marketfeed_") {
        let before = rest[..at].chars().next_back();
        let tail = &rest[at..];
        let end = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
        if !before.is_some_and(is_ident) {
            let selector = tail[end..]
                .strip_prefix('{')
                .and_then(|s| s.split_once('}'))
                .map(|(sel, _)| sel.to_owned());
            out.push((tail[..end].to_owned(), selector));
        }
        rest = &tail[end..];
    }
    out
}

/// The PromQL expressions of the dashboard: panel targets and template
/// variable queries.
fn dashboard_exprs() -> Vec<String> {
    let d: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut exprs = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel without a query: {panel}");
        for t in targets {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for var in d["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    exprs
}

/// The `expr:` values of the alert rules (single-line or `|` blocks).
fn alert_exprs() -> Vec<String> {
    let mut exprs = Vec::new();
    let mut lines = ALERTS.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let mut expr = value.trim().to_owned();
        if expr == "|" {
            expr.clear();
            while let Some(next) = lines.peek() {
                if next.len() - next.trim_start().len() <= indent {
                    break;
                }
                expr.push_str(next.trim());
                expr.push(' ');
                lines.next();
            }
        }
        exprs.push(expr);
    }
    exprs
}

/// Names of all samples in an exposition (`_bucket`, `_sum`, `_count` and
/// `_total` are part of the sample names, as PromQL sees them).
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Whether some sample of `name` carries every `label="value"` matcher of
/// `selector` (other matchers — `=~` on template variables — are skipped).
fn has_labels(text: &str, name: &str, selector: &str) -> bool {
    let wanted: Vec<&str> = selector
        .split(',')
        .map(str::trim)
        .filter(|m| m.contains("=\"") && !m.contains("=~") && !m.contains("!="))
        .collect();
    wanted.is_empty()
        || text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .any(|l| wanted.iter().all(|m| l.contains(m)))
}

#[tokio::test]
async fn dashboard_and_alerts_name_only_exported_metrics() {
    let server = start(config()).await;
    let addr = server.local_addr();
    // A client and a refused handshake, so labelled series exist.
    let mut ws = connect(addr).await;
    skip_greeting(&mut ws).await;
    let (refused, _) = harden::handshake(addr, "/ws/market", &["Sec-WebSocket-Version: 8"]).await;
    assert_ne!(refused.status, 101);
    let text = metrics_until(addr, |m| {
        metric(m, "marketfeed_clients") == Some(1.0)
            && metric(m, "marketfeed_fanouts_total").is_some_and(|f| f >= 1.0)
    })
    .await;
    let names = exported(&text);
    assert!(names.len() > 10, "too few metrics exported:\n{text}");

    let dashboard = dashboard_exprs();
    let alerts = alert_exprs();
    assert!(dashboard.len() >= 10, "dashboard queries: {dashboard:?}");
    assert!(alerts.len() >= 4, "alert expressions: {alerts:?}");
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    for (source, exprs) in [("dashboard", &dashboard), ("alerts.yml", &alerts)] {
        for expr in exprs {
            let refs = metric_refs(expr);
            assert!(!refs.is_empty(), "{source}: no metric in {expr:?}");
            for (name, selector) in refs {
                used.insert(name.clone());
                if !names.contains(&name) {
                    missing.push(format!("{source}: {name} (in {expr:?})"));
                } else if let Some(sel) = selector {
                    if !has_labels(&text, &name, &sel) {
                        missing.push(format!("{source}: {name}{{{sel}}} has no such series"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named but not exported:\n{}\n\nexported:\n{text}",
        missing.join("\n")
    );
    // Every metric the README documents is on the dashboard or in an alert.
    for name in [
        "marketfeed_clients",
        "marketfeed_connections_accepted_total",
        "marketfeed_connections_rejected_total",
        "marketfeed_disconnects_total",
        "marketfeed_slow_client_drops_total",
        "marketfeed_tick_fanout_seconds_total",
        "marketfeed_tick_fanout_duration_seconds_bucket",
        "marketfeed_tick_encode_duration_seconds_bucket",
        "marketfeed_fanouts_total",
        "marketfeed_bytes_sent_total",
        "marketfeed_bytes_sent_by_format_total",
    ] {
        assert!(
            used.contains(name),
            "{name} is on neither the dashboard nor an alert"
        );
    }
    drop(ws);
    server.shutdown().await;
}

/// The value of `Key=` in the unit's `[Service]` section.
fn unit_value(key: &str) -> String {
    let prefix = format!("{key}=");
    UNIT.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{key}= missing from marketfeed.service"))
        .trim()
        .to_owned()
}

/// The words of the unit's ExecStart (continued lines joined).
fn exec_words() -> Vec<String> {
    let start = UNIT.find("ExecStart=").unwrap();
    let mut cmd = String::new();
    for line in UNIT[start + "ExecStart=".len()..].lines() {
        cmd.push_str(line.trim_end_matches('\\'));
        cmd.push(' ');
        if !line.ends_with('\\') {
            break;
        }
    }
    cmd.split_whitespace().map(str::to_owned).collect()
}

/// The setting `key` the unit starts the server with: `--key VALUE` on
/// ExecStart, else `key = VALUE` in the `--config` file (the example
/// `deploy/marketfeed.toml`, installed under the name ExecStart gives).
fn exec_setting(key: &str) -> String {
    let words = exec_words();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| w == flag)
            .map(|i| words[i + 1].clone())
    };
    if let Some(v) = after(&format!("--{key}")) {
        return v;
    }
    let config = after("--config").unwrap_or_else(|| panic!("--{key} missing from ExecStart"));
    assert!(
        config.ends_with("/marketfeed.toml"),
        "ExecStart reads {config}, not the example deploy/marketfeed.toml"
    );
    EXAMPLE_CONFIG
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{key} missing from deploy/marketfeed.toml"))
}

#[test]
fn service_unit_fits_the_settings_it_starts_the_server_with() {
    let secs = |s: &str| humantime::parse_duration(s).unwrap();
    assert_eq!(unit_value("DynamicUser"), "yes");
    assert!(UNIT.contains("Restart=on-failure"));
    let max_connections: u64 = exec_setting("max-connections").parse().unwrap();
    let nofile: u64 = unit_value("LimitNOFILE").parse().unwrap();
    let pending = marketfeed_server::Config::with_defaults().max_pending_handshakes as u64;
    assert!(
        nofile > max_connections + pending,
        "LimitNOFILE={nofile} leaves no room for {max_connections} clients + {pending} handshakes"
    );
    let drain = secs(&exec_setting("drain-delay")) + secs(&exec_setting("shutdown-drain"));
    let stop = secs(&unit_value("TimeoutStopSec"));
    assert!(
        stop > drain + Duration::from_secs(1),
        "TimeoutStopSec={stop:?} does not outlast the drain ({drain:?})"
    );
}
