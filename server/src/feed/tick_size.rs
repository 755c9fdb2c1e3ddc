//! HOSE price steps and the daily price band.
//!
//! The step ("bước giá") depends on the price level itself:
//!
//! | price (VND)        | step |
//! |--------------------|------|
//! | below 10,000       | 10   |
//! | 10,000 – 49,950    | 50   |
//! | 50,000 and above   | 100  |
//!
//! The ceiling is `reference × 1.07` rounded **down** to a valid price and the
//! floor is `reference × 0.93` rounded **up** to a valid price. Rounding always
//! uses the step that applies at the result; because every tier boundary is a
//! multiple of the larger step, rounding never lands on an invalid price.
//! All arithmetic is integer: money never goes through `f64`.

/// Width of the HOSE daily price band, in percent of the reference price.
pub const BAND_PERCENT: u64 = 7;

/// Price step in VND that applies at `price`.
pub fn tick_size(price: u64) -> u64 {
    match price {
        0..10_000 => 10,
        10_000..50_000 => 50,
        _ => 100,
    }
}

/// Whether `price` is a positive multiple of the step that applies at it.
pub fn is_valid_price(price: u64) -> bool {
    price > 0 && price % tick_size(price) == 0
}

/// Largest valid price not above `price`.
pub fn round_down(price: u64) -> u64 {
    price - price % tick_size(price)
}

/// Smallest valid price not below `price`.
pub fn round_up(price: u64) -> u64 {
    let step = tick_size(price);
    price.div_ceil(step) * step
}

/// The next valid price above a valid `price`.
pub fn tick_up(price: u64) -> u64 {
    price + tick_size(price)
}

/// The next valid price below a valid `price` (0 when there is none).
///
/// The step is the one that applies *below* `price`: one tick under 10,000
/// is 9,990, one tick under 50,000 is 49,950.
pub fn tick_down(price: u64) -> u64 {
    price.saturating_sub(tick_size(price.saturating_sub(1)))
}

/// Ceiling price: `reference × (100 + 7) / 100`, rounded down to a valid price.
pub fn ceiling_price(reference: u64) -> u64 {
    round_down(reference * (100 + BAND_PERCENT) / 100)
}

/// Floor price: `reference × (100 − 7) / 100`, rounded up to a valid price.
pub fn floor_price(reference: u64) -> u64 {
    round_up((reference * (100 - BAND_PERCENT)).div_ceil(100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_table_edges() {
        assert_eq!(tick_size(9_990), 10);
        assert_eq!(tick_size(9_999), 10);
        assert_eq!(tick_size(10_000), 50);
        assert_eq!(tick_size(49_950), 50);
        assert_eq!(tick_size(49_999), 50);
        assert_eq!(tick_size(50_000), 100);
        assert_eq!(tick_size(126_300), 100);
    }

    #[test]
    fn validity() {
        assert!(is_valid_price(9_990));
        assert!(!is_valid_price(9_995));
        assert!(is_valid_price(10_050));
        assert!(!is_valid_price(10_010));
        assert!(is_valid_price(49_950));
        assert!(!is_valid_price(50_050));
        assert!(is_valid_price(50_100));
        assert!(!is_valid_price(0));
    }

    #[test]
    fn rounding_crosses_tiers_onto_valid_prices() {
        assert_eq!(round_up(9_995), 10_000);
        assert_eq!(round_up(49_951), 50_000);
        assert_eq!(round_down(10_049), 10_000);
        assert_eq!(round_down(50_099), 50_000);
        assert_eq!(round_down(9_999), 9_990);
    }

    #[test]
    fn ticks_step_across_tier_boundaries() {
        assert_eq!(tick_up(9_990), 10_000);
        assert_eq!(tick_down(10_000), 9_990);
        assert_eq!(tick_up(49_950), 50_000);
        assert_eq!(tick_down(50_000), 49_950);
        assert_eq!(tick_down(50_100), 50_000);
        assert_eq!(tick_down(10_050), 10_000);
    }

    #[test]
    fn band_examples_by_hand() {
        // 9,990 × 1.07 = 10,689.3 → step 50 → 10,650; × 0.93 = 9,290.7 → 9,300.
        assert_eq!(ceiling_price(9_990), 10_650);
        assert_eq!(floor_price(9_990), 9_300);
        // 10,000 → 10,700 / 9,300 exactly.
        assert_eq!(ceiling_price(10_000), 10_700);
        assert_eq!(floor_price(10_000), 9_300);
        // 49,950 × 1.07 = 53,446.5 → step 100 → 53,400; × 0.93 = 46,453.5 → 46,500.
        assert_eq!(ceiling_price(49_950), 53_400);
        assert_eq!(floor_price(49_950), 46_500);
        // 50,000 → 53,500 / 46,500 exactly.
        assert_eq!(ceiling_price(50_000), 53_500);
        assert_eq!(floor_price(50_000), 46_500);
        // 26,150 × 1.07 = 27,980.5 → 27,950; × 0.93 = 24,319.5 → 24,350.
        assert_eq!(ceiling_price(26_150), 27_950);
        assert_eq!(floor_price(26_150), 24_350);
        // 126,300 × 1.07 = 135,141 → 135,100; × 0.93 = 117,459 → 117,500.
        assert_eq!(ceiling_price(126_300), 135_100);
        assert_eq!(floor_price(126_300), 117_500);
        // 9,400 × 1.07 = 10,058 → 10,050: the ceiling sits in the next tier.
        assert_eq!(ceiling_price(9_400), 10_050);
        // 53,700 × 0.93 = 49,941 → 49,950: the floor sits in the lower tier.
        assert_eq!(floor_price(53_700), 49_950);
    }

    #[test]
    fn band_is_tightest_valid_range_for_every_reference() {
        let mut reference = 1_000;
        while reference <= 300_000 {
            let (ceiling, floor) = (ceiling_price(reference), floor_price(reference));
            assert!(
                is_valid_price(ceiling) && is_valid_price(floor),
                "{reference}"
            );
            assert!(floor < reference && reference < ceiling, "{reference}");
            assert!(ceiling * 100 <= reference * 107, "{reference}");
            assert!(tick_up(ceiling) * 100 > reference * 107, "{reference}");
            assert!(floor * 100 >= reference * 93, "{reference}");
            assert!(tick_down(floor) * 100 < reference * 93, "{reference}");
            assert_eq!(tick_down(tick_up(reference)), reference);
            reference = tick_up(reference);
        }
    }
}
