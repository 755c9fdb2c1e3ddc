//! Encode and decode cost of one realistic snapshot (30 quotes, 4 indices).
//!
//! The server encodes one snapshot per tick whatever the client count, and
//! every client decodes each one: these are the per-tick and per-message
//! protocol costs. Run with `cargo bench -p marketfeed-protocol`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use marketfeed_protocol::{
    decode_server, encode_server, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote,
    ServerMessage, TradingPhase,
};
use std::hint::black_box;

const VN30: [&str; 30] = [
    "ACB", "BCM", "BID", "BVH", "CTG", "FPT", "GAS", "GVR", "HDB", "HPG", "LPB", "MBB", "MSN",
    "MWG", "PLX", "SAB", "SHB", "SSB", "SSI", "STB", "TCB", "TPB", "VCB", "VHM", "VIB", "VIC",
    "VJC", "VNM", "VPB", "VRE",
];

fn levels(start: u64, step: i64, i: u64) -> Vec<PriceLevel> {
    (0..3)
        .map(|k| PriceLevel {
            price: start.saturating_add_signed(step * k),
            volume: 1_000 + 3_700 * (i + 1) * (k as u64 + 1) % 90_000,
        })
        .collect()
}

fn snapshot() -> ServerMessage {
    let quotes = VN30
        .iter()
        .zip(0u64..)
        .map(|(sym, i)| {
            let reference = 20_000 + i * 4_150;
            let last = reference + 50 * (i % 7);
            Quote {
                symbol: (*sym).to_owned(),
                reference,
                ceiling: reference * 107 / 100,
                floor: reference * 93 / 100,
                open: reference + 50,
                high: last + 100,
                low: reference - 100,
                last,
                change: last as i64 - reference as i64,
                total_volume: 1_523_400 + i * 98_700,
                total_value: (1_523_400 + i * 98_700) * last,
                bids: levels(last - 50, -50, i),
                asks: levels(last, 50, i),
                foreign_buy: 120_000 + i * 1_300,
                foreign_sell: 85_000 + i * 900,
                auction: None,
            }
        })
        .collect();
    let indices = ["VNINDEX", "VN30", "HNX-INDEX", "UPCOM-INDEX"]
        .iter()
        .zip(0i64..)
        .map(|(code, i)| IndexQuote {
            code: (*code).to_owned(),
            value: 128_534 - i * 30_000,
            reference: 127_910 - i * 30_000,
            change: 624 - i * 100,
            total_volume: 512_345_600,
            total_value: 12_453_400_000_000,
        })
        .collect();
    ServerMessage::Snapshot(MarketSnapshot {
        seq: 123_456,
        ts: 1_764_129_600_123_456,
        phase: TradingPhase::Continuous,
        quotes,
        indices,
        foreign: ForeignFlow {
            buy_volume: 4_200_000,
            sell_volume: 3_900_000,
            buy_value: 190_000_000_000,
            sell_value: 175_000_000_000,
            net_value: 15_000_000_000,
        },
        stale: false,
    })
}

fn bench(c: &mut Criterion) {
    let msg = snapshot();
    let wire = encode_server(&msg);
    let mut group = c.benchmark_group("snapshot");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function(format!("encode_{}B", wire.len()), |b| {
        b.iter(|| encode_server(black_box(&msg)))
    });
    group.bench_function(format!("decode_{}B", wire.len()), |b| {
        b.iter(|| decode_server(black_box(&wire)))
    });
    group.bench_function(format!("decode_typed_only_{}B", wire.len()), |b| {
        b.iter(|| serde_json::from_slice::<ServerMessage>(black_box(&wire)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
