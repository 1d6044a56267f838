//! PyTorch's adaptive pooling bins.

/// The `[start, end)` input range of each of `output` bins over `input` elements:
/// `start = floor(i * input / output)`, `end = ceil((i + 1) * input / output)`.
///
/// Neighbouring bins overlap when `output` does not divide `input` (5 -> 3 gives `[0, 2)`,
/// `[1, 4)`, `[3, 5)`), and repeat elements when `output > input`. Both sizes are at least 1.
pub(super) fn bins(input: usize, output: usize) -> impl Iterator<Item = (usize, usize)> {
    debug_assert!(input > 0 && output > 0);
    // u128: `i * input` can overflow usize for a huge output size.
    let (n, o) = (input as u128, output as u128);
    (0..o).map(move |i| {
        let start = i * n / o;
        let end = ((i + 1) * n).div_ceil(o);
        // Both are at most `input`.
        (start as usize, end as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_bins_overlap_when_the_output_does_not_divide_the_input() {
        assert_eq!(bins(5, 3).collect::<Vec<_>>(), [(0, 2), (1, 4), (3, 5)]);
        assert_eq!(bins(4, 2).collect::<Vec<_>>(), [(0, 2), (2, 4)]);
        assert_eq!(bins(2, 3).collect::<Vec<_>>(), [(0, 1), (0, 2), (1, 2)]);
        assert_eq!(bins(7, 1).collect::<Vec<_>>(), [(0, 7)]);
    }
}
