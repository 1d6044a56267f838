//! Where one kernel tap lands along a strided axis: the bounds arithmetic that im2col (a
//! convolution reading its input) and col2im (a transposed convolution writing its output)
//! share.
//!
//! Along one axis, index `i` of the strided side meets position `i*stride + k*dilation - pad`
//! of the other side for tap `k`. Both kernels need the indices whose position falls inside
//! the other side, so they can copy that run without a bounds check per element and treat
//! the rest as padding.

use core::ops::Range;

/// The indices of a strided axis whose position, for one kernel tap, falls inside the other
/// side; `first` is the position of `indices.start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taps {
    /// The indices `i` in `0..count` with `0 <= i*stride + offset < limit`. May be empty.
    pub indices: Range<usize>,
    /// The position `i*stride + offset` of the first of them (0 when there are none).
    pub first: usize,
}

impl Taps {
    /// The indices `i` in `0..count` whose position `i*stride + tap*dilation - pad` lies in
    /// `0..limit`.
    ///
    /// Computed in `i128`, where no sum or product of two `usize`s overflows, so huge pads
    /// or dilations cannot wrap around into a wrong but in-bounds position.
    pub(crate) fn new(
        count: usize,
        stride: usize,
        tap: usize,
        dilation: usize,
        pad: usize,
        limit: usize,
    ) -> Self {
        debug_assert!(stride > 0, "the API refuses a zero stride");
        let (count, stride, limit) = (count as i128, stride as i128, limit as i128);
        let offset = tap as i128 * dilation as i128 - pad as i128;
        // The first index at or after position 0: ceil(-offset / stride), at least 0.
        let start = if offset >= 0 {
            0
        } else {
            (-offset + stride - 1) / stride
        };
        // One past the last index before position `limit`: floor((limit-1-offset) / stride) + 1.
        let last = limit - 1 - offset;
        let end = if last < 0 { 0 } else { last / stride + 1 };
        let end = end.min(count);
        if start >= end {
            return Taps {
                indices: 0..0,
                first: 0,
            };
        }
        // Every value here lies in 0..=max(count, limit), so it fits in usize.
        Taps {
            indices: start as usize..end as usize,
            first: (start * stride + offset) as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same indices found one at a time.
    fn brute_force(
        count: usize,
        stride: usize,
        tap: usize,
        dilation: usize,
        pad: usize,
        limit: usize,
    ) -> Vec<usize> {
        (0..count)
            .filter(|&i| {
                let position = (i * stride + tap * dilation) as i64 - pad as i64;
                (0..limit as i64).contains(&position)
            })
            .collect()
    }

    #[test]
    fn taps_match_a_position_by_position_search() {
        for count in 1..7 {
            for stride in 1..4 {
                for tap in 0..4 {
                    for dilation in 1..3 {
                        for pad in 0..6 {
                            for limit in 1..7 {
                                let taps = Taps::new(count, stride, tap, dilation, pad, limit);
                                let want = brute_force(count, stride, tap, dilation, pad, limit);
                                let got: Vec<usize> = taps.indices.clone().collect();
                                assert_eq!(got, want, "{count} {stride} {tap} {dilation} {pad}");
                                if let Some(&i) = want.first() {
                                    assert_eq!(taps.first, i * stride + tap * dilation - pad);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn taps_do_not_wrap_around_with_huge_padding() {
        let taps = Taps::new(3, usize::MAX / 2, 0, 1, usize::MAX / 2, 1);
        assert_eq!(taps.indices, 1..2);
        assert_eq!(taps.first, 0);
    }
}
