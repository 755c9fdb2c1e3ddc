//! Static market data: the VN30 basket and the indices the simulator quotes.
//!
//! Reference prices, weights and volumes are realistic orders of magnitude for
//! the HOSE market, not a live record: good enough for a price board that
//! looks right, for load tests and for demos.

/// One constituent of the VN30 basket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockSpec {
    /// HOSE ticker.
    pub symbol: &'static str,
    /// Reference price (previous close) in VND, a valid HOSE price.
    pub reference: u64,
    /// Free-float capitalisation weight in the VN30 index, basis points
    /// (the basket sums to 10,000).
    pub weight_bp: u64,
    /// Typical matched volume of a full trading day, in shares.
    pub daily_volume: u64,
}

/// How an index is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    /// Index code as shown on the board.
    pub code: &'static str,
    /// Previous close, hundredths of a point (`128054` = 1,280.54).
    pub reference: i64,
    /// Share of the VN30 basket return the index follows, percent.
    pub basket_beta_pct: i64,
    /// Bound of the index's own drift around that, parts per million.
    pub drift_limit_ppm: i64,
    /// Whether the basket's matched volume and value count in the index.
    pub includes_basket: bool,
    /// Mean volume matched per tick outside the basket, shares.
    pub other_volume_per_tick: u64,
    /// Average price of that other volume, VND.
    pub other_avg_price: u64,
}

/// Shorthand for the basket table.
const fn stock(symbol: &'static str, reference: u64, weight_bp: u64, daily: u64) -> StockSpec {
    StockSpec {
        symbol,
        reference,
        weight_bp,
        daily_volume: daily,
    }
}

/// The VN30 basket, alphabetical.
pub const VN30: [StockSpec; 30] = [
    stock("ACB", 25_350, 500, 10_000_000),
    stock("BCM", 62_300, 70, 1_000_000),
    stock("BID", 38_450, 150, 3_000_000),
    stock("BVH", 51_200, 80, 1_000_000),
    stock("CTG", 40_150, 300, 6_000_000),
    stock("FPT", 126_300, 1_000, 5_000_000),
    stock("GAS", 66_400, 100, 1_500_000),
    stock("GVR", 28_750, 100, 3_000_000),
    stock("HDB", 22_600, 350, 10_000_000),
    stock("HPG", 26_150, 800, 30_000_000),
    stock("LPB", 32_800, 200, 5_000_000),
    stock("MBB", 24_250, 600, 20_000_000),
    stock("MSN", 71_600, 350, 5_000_000),
    stock("MWG", 61_800, 450, 7_000_000),
    stock("PLX", 36_900, 100, 2_000_000),
    stock("SAB", 48_300, 100, 1_000_000),
    stock("SHB", 12_750, 200, 40_000_000),
    stock("SSB", 17_650, 100, 5_000_000),
    stock("SSI", 24_700, 300, 20_000_000),
    stock("STB", 40_600, 400, 20_000_000),
    stock("TCB", 28_950, 650, 15_000_000),
    stock("TPB", 13_600, 150, 10_000_000),
    stock("VCB", 60_700, 300, 3_000_000),
    stock("VHM", 63_500, 600, 8_000_000),
    stock("VIB", 18_450, 150, 8_000_000),
    stock("VIC", 88_900, 650, 5_000_000),
    stock("VJC", 101_500, 200, 1_500_000),
    stock("VNM", 60_100, 400, 5_000_000),
    stock("VPB", 18_700, 500, 25_000_000),
    stock("VRE", 25_600, 150, 10_000_000),
];

/// Code of the index computed from the basket itself.
pub const VN30_INDEX: &str = "VN30";

/// The indices, in the order of `MarketSnapshot::indices`.
pub const INDICES: [IndexSpec; 4] = [
    IndexSpec {
        code: "VNINDEX",
        reference: 128_054,
        basket_beta_pct: 85,
        drift_limit_ppm: 5_000,
        includes_basket: true,
        other_volume_per_tick: 25_000,
        other_avg_price: 20_000,
    },
    IndexSpec {
        code: VN30_INDEX,
        reference: 135_210,
        basket_beta_pct: 100,
        drift_limit_ppm: 0,
        includes_basket: true,
        other_volume_per_tick: 0,
        other_avg_price: 0,
    },
    IndexSpec {
        code: "HNX-INDEX",
        reference: 22_845,
        basket_beta_pct: 0,
        drift_limit_ppm: 20_000,
        includes_basket: false,
        other_volume_per_tick: 3_700,
        other_avg_price: 15_000,
    },
    IndexSpec {
        code: "UPCOM-INDEX",
        reference: 9_612,
        basket_beta_pct: 0,
        drift_limit_ppm: 15_000,
        includes_basket: false,
        other_volume_per_tick: 2_500,
        other_avg_price: 12_000,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::tick_size::is_valid_price;

    #[test]
    fn basket_is_thirty_distinct_sorted_tickers() {
        assert_eq!(VN30.len(), 30);
        for pair in VN30.windows(2) {
            assert!(pair[0].symbol < pair[1].symbol, "{pair:?}");
        }
    }

    #[test]
    fn references_are_valid_prices() {
        for s in &VN30 {
            assert!(is_valid_price(s.reference), "{}", s.symbol);
            assert!(s.daily_volume >= 100, "{}", s.symbol);
        }
    }

    #[test]
    fn weights_sum_to_one() {
        assert_eq!(VN30.iter().map(|s| s.weight_bp).sum::<u64>(), 10_000);
    }

    #[test]
    fn four_indices_with_vn30_driven_by_basket() {
        let codes: Vec<_> = INDICES.iter().map(|i| i.code).collect();
        assert_eq!(codes, ["VNINDEX", "VN30", "HNX-INDEX", "UPCOM-INDEX"]);
        let vn30 = INDICES.iter().find(|i| i.code == VN30_INDEX);
        assert_eq!(vn30.map(|i| i.basket_beta_pct), Some(100));
    }
}
