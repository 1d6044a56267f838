//! Adaptive pooling's bins against their definition, by brute force: bin `i` of `o` over `n`
//! inputs starts at the largest `s` with `s * o <= i * n` and ends at the smallest `e` with
//! `e * o >= (i + 1) * n`.

use proptest::prelude::*;
use stride_geometry::adaptive_bin;

/// The bin by searching every candidate boundary.
fn brute_force(input: usize, output: usize, index: usize) -> (usize, usize) {
    let start = (0..=input)
        .filter(|&s| s * output <= index * input)
        .max()
        .expect("0 qualifies");
    let end = (0..=input)
        .find(|&e| e * output >= (index + 1) * input)
        .expect("input qualifies");
    (start, end)
}

#[test]
fn adaptive_bins_are_pytorchs_on_hand_checked_sizes() {
    let bins = |input, output| {
        (0..output)
            .map(|i| adaptive_bin(input, output, i))
            .collect::<Vec<_>>()
    };
    assert_eq!(bins(5, 3), [(0, 2), (1, 4), (3, 5)]);
    assert_eq!(bins(4, 2), [(0, 2), (2, 4)]);
    assert_eq!(bins(2, 3), [(0, 1), (0, 2), (1, 2)]);
    assert_eq!(bins(7, 1), [(0, 7)]);
    // torchvision's VGG pools 7x7 to 7x7: each bin is one input.
    assert_eq!(bins(7, 7), (0..7).map(|i| (i, i + 1)).collect::<Vec<_>>());
}

#[test]
fn adaptive_bins_do_not_overflow_for_huge_sizes() {
    let huge = usize::MAX / 2;
    assert_eq!(adaptive_bin(huge, huge, huge - 1), (huge - 1, huge));
    assert_eq!(adaptive_bin(3, huge, huge - 1), (2, 3));
    assert_eq!(adaptive_bin(huge, 3, 2), (huge / 3 * 2, huge));
}

#[test]
fn adaptive_bins_past_the_last_are_empty_at_the_end_of_the_input() {
    assert_eq!(adaptive_bin(5, 3, 3), (5, 5));
    assert_eq!(adaptive_bin(5, 0, 0), (5, 5));
}

proptest! {
    #[test]
    fn adaptive_bin_is_its_brute_force_definition(
        input in 1usize..60,
        output in 1usize..60,
        index in 0usize..60,
    ) {
        let index = index % output;
        prop_assert_eq!(adaptive_bin(input, output, index), brute_force(input, output, index));
    }

    #[test]
    fn adaptive_bins_cover_the_input_in_order_and_none_is_empty(
        input in 1usize..200,
        output in 1usize..200,
    ) {
        let bins: Vec<_> = (0..output).map(|i| adaptive_bin(input, output, i)).collect();
        prop_assert_eq!(bins[0].0, 0);
        prop_assert_eq!(bins[output - 1].1, input);
        for pair in bins.windows(2) {
            prop_assert!(pair[0].0 <= pair[1].0 && pair[0].1 <= pair[1].1);
            // No gap: the next bin starts where this one ends, or before.
            prop_assert!(pair[1].0 <= pair[0].1);
        }
        prop_assert!(bins.iter().all(|&(s, e)| s < e && e <= input));
    }
}
