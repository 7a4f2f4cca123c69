/// A sequential colour map (matplotlib's viridis at ten evenly spaced points), ordered from the
/// smallest reward model (dark purple) to the largest (yellow), so that size reads as lightness.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3e, 0x49, 0x89),
    (0x31, 0x68, 0x8e),
    (0x26, 0x82, 0x8e),
    (0x1f, 0x9e, 0x89),
    (0x35, 0xb7, 0x79),
    (0x6e, 0xce, 0x58),
    (0xb5, 0xde, 0x2b),
    (0xfd, 0xe7, 0x25),
];

/// The palette index of the `rank`-th of `count` sizes (0 = smallest), spread over the whole map:
/// two sizes get the two ends, ten or more get one colour each (ranks past the end share the last).
///
/// ```
/// use goodhart_plot::{spread_colour, PALETTE};
/// assert_eq!(spread_colour(0, 3), 0);
/// assert_eq!(spread_colour(2, 3), PALETTE.len() - 1);
/// ```
pub fn spread_colour(rank: usize, count: usize) -> usize {
    let last = PALETTE.len() - 1;
    if count <= 1 {
        return 0;
    }
    let rank = rank.min(count - 1);
    // Round to the nearest palette entry; exact at both ends.
    (rank * last + (count - 1) / 2) / (count - 1)
}
