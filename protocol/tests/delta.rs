//! Deltas over simulated tick sequences: `apply(prev, diff(prev, next))`
//! is `next` at every tick, restricting commutes with diffing, and every
//! delta and keyframe survives both encodings (JSON and binary) unchanged.
//! `binary_sizes` prints the encoded sizes the codec choice rests on
//! (`cargo test -p marketfeed-protocol --test delta -- --nocapture`).

use marketfeed_protocol::{
    apply, decode_binary, decode_server, diff, encode_binary, encode_server, restrict, ApplyError,
    Auction, BinaryError, Delta, ForeignFlow, IndexQuote, MarketSnapshot, PriceLevel, Quote,
    ServerMessage, TradingPhase,
};

const VN30: [&str; 30] = [
    "ACB", "BCM", "BID", "BVH", "CTG", "FPT", "GAS", "GVR", "HDB", "HPG", "LPB", "MBB", "MSN",
    "MWG", "PLX", "SAB", "SHB", "SSB", "SSI", "STB", "TCB", "TPB", "VCB", "VHM", "VIB", "VIC",
    "VJC", "VNM", "VPB", "VRE",
];

/// xorshift64*: deterministic, seedable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn book(best: u64, step: i64, rng: &mut Rng) -> Vec<PriceLevel> {
    (0..3)
        .map(|k| PriceLevel {
            price: best.saturating_add_signed(step * k),
            volume: 100 * (1 + rng.below(900)),
        })
        .collect()
}

fn start(rng: &mut Rng) -> MarketSnapshot {
    let quotes = VN30
        .iter()
        .zip(0u64..)
        .map(|(sym, i)| {
            let reference = 20_000 + i * 4_150;
            Quote {
                symbol: (*sym).to_owned(),
                reference,
                ceiling: reference * 107 / 100,
                floor: reference * 93 / 100,
                open: reference,
                high: reference,
                low: reference,
                last: reference,
                change: 0,
                total_volume: 1_000_000 + rng.below(100_000) * 100,
                total_value: 30_000_000_000 + rng.below(1_000_000) * 1_000,
                bids: book(reference - 50, -50, rng),
                asks: book(reference, 50, rng),
                foreign_buy: rng.below(10_000) * 100,
                foreign_sell: rng.below(10_000) * 100,
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
            change: 624,
            total_volume: 512_345_600,
            total_value: 12_453_400_000_000,
        })
        .collect();
    MarketSnapshot {
        seq: 1,
        ts: 1_764_129_600_000_000,
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
    }
}

/// One tick: about `active` % of the stocks trade (price, totals, a book
/// side or both move), the indices and foreign flow follow, and now and
/// then the phase, the stale flag or an auction projection changes.
fn step(prev: &MarketSnapshot, rng: &mut Rng, active: u64) -> MarketSnapshot {
    let mut next = prev.clone();
    next.seq += 1;
    next.ts += 1_000_000;
    for q in &mut next.quotes {
        if !rng.chance(active) {
            continue;
        }
        let moved = rng.below(3) as i64 - 1;
        q.last = q
            .last
            .saturating_add_signed(moved * 50)
            .clamp(q.floor, q.ceiling);
        q.high = q.high.max(q.last);
        q.low = q.low.min(q.last);
        q.change = q.last as i64 - q.reference as i64;
        let lot = 100 * (1 + rng.below(50));
        q.total_volume += lot;
        q.total_value += lot * q.last;
        if rng.chance(70) {
            q.bids = book(q.last - 50, -50, rng);
        }
        if rng.chance(70) {
            q.asks = book(q.last, 50, rng);
        }
        if rng.chance(20) {
            q.foreign_buy += lot;
        }
        if rng.chance(3) {
            // A side emptied at a band limit: fewer levels.
            q.bids.truncate(rng.below(3) as usize);
        }
        if rng.chance(5) {
            q.auction = match q.auction {
                None => Some(Auction {
                    price: q.last,
                    volume: lot,
                }),
                Some(_) if rng.chance(50) => None,
                Some(a) => Some(Auction {
                    volume: a.volume + lot,
                    ..a
                }),
            };
        }
    }
    for i in &mut next.indices {
        if rng.chance(80) {
            i.value += rng.below(21) as i64 - 10;
            i.change = i.value - i.reference;
            i.total_volume += rng.below(10_000);
        }
    }
    if rng.chance(50) {
        next.foreign.buy_volume += 100;
        next.foreign.net_value -= 2_450_000;
    }
    if rng.chance(2) {
        next.phase = match next.phase {
            TradingPhase::Continuous => TradingPhase::LunchBreak,
            _ => TradingPhase::Continuous,
        };
    }
    if rng.chance(2) {
        next.stale = !next.stale;
    }
    next
}

fn json_round_trip(msg: &ServerMessage) -> ServerMessage {
    decode_server(&encode_server(msg)).expect("JSON decodes")
}

fn binary_round_trip(msg: &ServerMessage) -> ServerMessage {
    decode_binary(&encode_binary(msg).expect("encodes")).expect("binary decodes")
}

#[test]
fn applying_each_delta_gives_the_next_snapshot_in_every_encoding() {
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut prev = start(&mut rng);
        let mut via_json = prev.clone();
        let mut via_bin = prev.clone();
        let mut empty_seen = false;
        for _ in 0..300 {
            let active = if seed % 4 == 0 { 0 } else { 28 };
            let next = step(&prev, &mut rng, active);
            let delta = diff(&prev, &next).expect("same universe");
            assert_eq!(
                (delta.base, delta.seq, delta.ts),
                (prev.seq, next.seq, next.ts)
            );
            empty_seen |= delta.quotes.is_empty();

            let mut direct = prev.clone();
            apply(&mut direct, &delta).expect("applies");
            assert_eq!(direct, next);

            let ServerMessage::Delta(d) = json_round_trip(&ServerMessage::Delta(delta.clone()))
            else {
                panic!("not a delta")
            };
            assert_eq!(d, delta);
            apply(&mut via_json, &d).expect("applies");
            assert_eq!(via_json, next);

            let ServerMessage::Delta(d) = binary_round_trip(&ServerMessage::Delta(delta.clone()))
            else {
                panic!("not a delta")
            };
            assert_eq!(d, delta);
            apply(&mut via_bin, &d).expect("applies");
            assert_eq!(via_bin, next);

            let key = ServerMessage::Snapshot(next.clone());
            assert_eq!(binary_round_trip(&key), key);
            prev = next;
        }
        if seed % 4 == 0 {
            assert!(empty_seen, "a still market gives deltas without quotes");
        }
    }
}

#[test]
fn an_unchanged_tick_is_an_empty_delta_that_still_advances_seq() {
    let mut rng = Rng(7);
    let prev = start(&mut rng);
    let mut next = prev.clone();
    next.seq += 1;
    next.ts += 1;
    let delta = diff(&prev, &next).expect("same universe");
    assert!(delta.is_empty());
    let mut s = prev.clone();
    apply(&mut s, &delta).expect("applies");
    assert_eq!(s, next);
}

#[test]
fn restricting_commutes_with_diffing() {
    let mut rng = Rng(99);
    let mut prev = start(&mut rng);
    let sets: [&[&str]; 3] = [&["FPT", "VNM"], &[], &["ACB", "HPG", "VCB", "VIC", "VRE"]];
    let mut held: Vec<MarketSnapshot> = sets
        .iter()
        .map(|set| restrict(&prev, |s| set.contains(&s)))
        .collect();
    for _ in 0..200 {
        let next = step(&prev, &mut rng, 28);
        let delta = diff(&prev, &next).expect("same universe");
        for (set, state) in sets.iter().zip(&mut held) {
            let keep = |s: &str| set.contains(&s);
            let part = delta.restricted(keep);
            assert!(part.quotes.iter().all(|q| keep(&q.symbol)));
            assert_eq!(part.indices, delta.indices, "indices always come");
            apply(state, &part).expect("applies");
            assert_eq!(*state, restrict(&next, keep));
            assert_eq!(
                Some(part),
                diff(&restrict(&prev, keep), &restrict(&next, keep))
            );
        }
        prev = next;
    }
}

#[test]
fn a_base_mismatch_or_an_unknown_entry_is_an_error_and_changes_nothing() {
    let mut rng = Rng(3);
    let prev = start(&mut rng);
    let next = step(&prev, &mut rng, 100);
    let delta = diff(&prev, &next).expect("same universe");
    let mut later = next.clone();
    assert_eq!(
        apply(&mut later, &delta),
        Err(ApplyError::BaseMismatch {
            have: next.seq,
            base: prev.seq
        })
    );
    assert_eq!(later, next);

    let mut partial = restrict(&prev, |s| s == "ACB");
    let before = partial.clone();
    let err = apply(&mut partial, &delta).expect_err("quotes outside the snapshot");
    assert!(
        matches!(err, ApplyError::UnknownSymbol(ref s) if s != "ACB"),
        "{err}"
    );
    assert_eq!(partial, before, "nothing applied");

    let mut no_index = prev.clone();
    no_index.indices.truncate(1);
    let mut d = delta.clone();
    d.indices = next.indices.clone();
    assert_eq!(
        apply(&mut no_index, &d),
        Err(ApplyError::UnknownIndex("VN30".into()))
    );
}

#[test]
fn a_new_universe_has_no_delta() {
    let mut rng = Rng(5);
    let prev = start(&mut rng);
    let mut next = step(&prev, &mut rng, 28);
    next.quotes.pop();
    assert_eq!(diff(&prev, &next), None);
    let mut renamed = prev.clone();
    renamed.indices[0].code = "VNX".into();
    assert_eq!(diff(&prev, &renamed), None);
}

#[test]
fn truncated_or_corrupt_binary_messages_are_errors_never_panics() {
    let mut rng = Rng(11);
    let prev = start(&mut rng);
    let next = step(&prev, &mut rng, 50);
    let delta = diff(&prev, &next).expect("same universe");
    for msg in [ServerMessage::Snapshot(next), ServerMessage::Delta(delta)] {
        let bytes = encode_binary(&msg).expect("encodes");
        for cut in 0..bytes.len() {
            assert!(decode_binary(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_binary(&longer), Err(BinaryError::Trailing(1)));
        // Flipping any byte either still decodes or is an error.
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0xff;
            let _ = decode_binary(&bad);
        }
    }
    assert_eq!(decode_binary(&[9]), Err(BinaryError::UnknownTag(9)));
    assert_eq!(
        encode_binary(&ServerMessage::Pong { id: 1 }),
        Err(BinaryError::NotBinary("pong"))
    );
    // A huge count with few bytes behind it is refused before allocating.
    assert_eq!(
        decode_binary(&[2, 1, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        Err(BinaryError::Count(0xffff_ffff))
    );
}

#[test]
fn binary_sizes() {
    let mut rng = Rng(2026);
    let mut prev = start(&mut rng);
    let (mut json_total, mut bin_total, mut ticks) = (0usize, 0usize, 0usize);
    let mut last: Option<Delta> = None;
    for _ in 0..200 {
        let next = step(&prev, &mut rng, 28);
        let delta = diff(&prev, &next).expect("same universe");
        let msg = ServerMessage::Delta(delta.clone());
        json_total += encode_server(&msg).len();
        bin_total += encode_binary(&msg).expect("encodes").len();
        ticks += 1;
        last = Some(delta);
        prev = next;
    }
    let key = ServerMessage::Snapshot(prev);
    let key_json = encode_server(&key).len();
    let key_bin = encode_binary(&key).expect("encodes").len();
    let (delta_json, delta_bin) = (json_total / ticks, bin_total / ticks);
    println!(
        "30 quotes, 28 % active per tick: keyframe JSON {key_json} B, binary {key_bin} B; \
         mean delta JSON {delta_json} B, binary {delta_bin} B ({} quotes in the last)",
        last.map_or(0, |d| d.quotes.len())
    );
    assert!(key_bin * 3 < key_json, "{key_bin} vs {key_json}");
    assert!(delta_bin * 2 < delta_json, "{delta_bin} vs {delta_json}");
    assert!(delta_bin * 3 < key_bin, "{delta_bin} vs {key_bin}");
}
