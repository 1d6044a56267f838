//! The interface between the pools' checks and their kernels: where each output position's
//! window falls on one input axis, clipped to the input, computed once per call and shared by
//! every plane.

use stride_geometry::{Window, adaptive_bin};

use crate::{Result, memory};

/// The part of one output position's window that lands on the input, along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Input index of the first tap on the input (0 when there is none).
    pub first: usize,
    /// How many taps land on the input, [`AxisWindows::dilation`] apart. Can be 0 for a dilated
    /// max pool whose taps all fall in the padding.
    pub taps: usize,
    /// How many taps land on the padded input, padding included: the window clipped to
    /// `[0, pad_begin + input + pad_end)`. Average pooling with `count_include_pad` divides by
    /// it; only a `ceil_mode` window that runs past the end padding has fewer than the kernel.
    pub padded: usize,
}

impl Span {
    /// The input indices of the taps on the input.
    pub fn indices(self, dilation: usize) -> impl Iterator<Item = usize> {
        (0..self.taps).map(move |i| self.first + i * dilation)
    }
}

/// Every output position's [`Span`] along one axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AxisWindows {
    /// The input size along the axis.
    pub input: usize,
    /// The spacing between taps.
    pub dilation: usize,
    /// One span per output position.
    pub spans: Vec<Span>,
}

impl AxisWindows {
    /// The windows of a sliding pool whose output size the geometry crate computed: window `o`
    /// starts at `o * stride - pad_begin` and has `kernel` taps `dilation` apart.
    ///
    /// Works in `u128` so that no parameter the geometry accepted can overflow here. Refuses,
    /// naming `op`, a table too large to allocate.
    pub fn sliding(op: &'static str, input: usize, output: usize, window: Window) -> Result<Self> {
        let wide = |v: usize| v as u128;
        let (kernel, dilation) = (wide(window.kernel), wide(window.dilation));
        let pad_begin = wide(window.pad_begin);
        let input_end = pad_begin + wide(input);
        let padded_end = input_end + wide(window.pad_end);
        let narrow = |v: u128| usize::try_from(v).expect("bounded by the input or the kernel");
        let spans = (0..output).map(|o| {
            // In padded coordinates, where the input starts at `pad_begin`.
            let start = wide(o) * wide(window.stride);
            debug_assert!(
                start < input_end,
                "the geometry drops windows in the padding"
            );
            let skipped = pad_begin.saturating_sub(start).div_ceil(dilation);
            let first = start + skipped * dilation;
            let taps = if skipped < kernel && first < input_end {
                (kernel - skipped).min((input_end - 1 - first) / dilation + 1)
            } else {
                0
            };
            let padded = kernel.min((padded_end - 1 - start) / dilation + 1);
            Span {
                first: if taps > 0 {
                    narrow(first - pad_begin)
                } else {
                    0
                },
                taps: narrow(taps),
                padded: narrow(padded),
            }
        });
        Ok(AxisWindows {
            input,
            dilation: window.dilation,
            spans: memory::collect(op, "window table", spans)?,
        })
    }

    /// The bins of an adaptive pool of `output` bins over `input` elements, by the geometry
    /// crate's [`adaptive_bin`] (PyTorch's rule). Both sizes are at least 1. Refuses, naming
    /// `op`, a table too large to allocate.
    pub fn adaptive(op: &'static str, input: usize, output: usize) -> Result<Self> {
        debug_assert!(input > 0 && output > 0);
        let spans = (0..output).map(|index| {
            let (start, end) = adaptive_bin(input, output, index);
            debug_assert!(start < end && end <= input);
            Span {
                first: start,
                taps: end - start,
                padded: end - start,
            }
        });
        Ok(AxisWindows {
            input,
            dilation: 1,
            spans: memory::collect(op, "window table", spans)?,
        })
    }

    /// The output size along the axis.
    pub fn output(&self) -> usize {
        self.spans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The taps of window `o`, by brute force over every tap.
    fn brute_force(input: usize, window: Window, o: usize) -> (Vec<usize>, usize) {
        let start = (o * window.stride) as i64 - window.pad_begin as i64;
        let padded_end = (input + window.pad_end) as i64;
        let positions = (0..window.kernel).map(|i| start + (i * window.dilation) as i64);
        let on_input = positions
            .clone()
            .filter(|&p| p >= 0 && p < input as i64)
            .map(|p| p as usize)
            .collect();
        (on_input, positions.filter(|&p| p < padded_end).count())
    }

    #[test]
    fn sliding_windows_match_a_brute_force_tap_count() {
        for input in 1..9 {
            for kernel in 1..5 {
                for stride in 1..4 {
                    for dilation in 1..4 {
                        let effective = dilation * (kernel - 1) + 1;
                        for pad in 0..=effective / 2 {
                            let window = Window::new(kernel)
                                .stride(stride)
                                .dilation(dilation)
                                .padding(pad);
                            for ceil_mode in [false, true] {
                                let Ok(output) =
                                    stride_geometry::pool_output(input, window, ceil_mode)
                                else {
                                    continue;
                                };
                                let windows =
                                    AxisWindows::sliding("test", input, output, window).unwrap();
                                for (o, span) in windows.spans.iter().enumerate() {
                                    let (taps, padded) = brute_force(input, window, o);
                                    let got: Vec<_> = span.indices(dilation).collect();
                                    assert_eq!(got, taps, "{window:?} {input} {o}");
                                    assert_eq!(span.padded, padded, "{window:?} {input} {o}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
