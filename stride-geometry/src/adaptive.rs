/// The input range `[start, end)` that bin `index` of an adaptive pool reads, along one axis of
/// `input` elements pooled into `output` bins: PyTorch's rule,
///
/// ```text
/// start = floor(index * input / output),   end = ceil((index + 1) * input / output)
/// ```
///
/// Neighbouring bins overlap when `output` does not divide `input` (5 into 3 gives `[0, 2)`,
/// `[1, 4)`, `[3, 5)`), and repeat elements when `output > input`. For `index < output` and an
/// `input` of at least 1, every bin holds at least one element and lies inside the input, the
/// first starts at 0 and the last ends at `input`.
///
/// Total, like the window rules' remainders: an `output` of 0 has no bins, and it and an
/// `index` past the last bin give the empty range at the input's end, `(input, input)`. The
/// products are taken in `u128`, so no sizes overflow.
///
/// ```
/// use stride_geometry::adaptive_bin;
///
/// // ResNet's average pool, 7 -> 1: one bin over everything.
/// assert_eq!(adaptive_bin(7, 1, 0), (0, 7));
/// // 5 -> 3: overlapping bins.
/// assert_eq!([0, 1, 2].map(|i| adaptive_bin(5, 3, i)), [(0, 2), (1, 4), (3, 5)]);
/// ```
pub const fn adaptive_bin(input: usize, output: usize, index: usize) -> (usize, usize) {
    if index >= output {
        return (input, input);
    }
    let (n, o, i) = (input as u128, output as u128, index as u128);
    // Both are at most `input`, since `index < output`.
    let start = i * n / o;
    let end = ((i + 1) * n).div_ceil(o);
    (start as usize, end as usize)
}
