//! PIL's antialiased bilinear resize of 8-bit images (`Image.resize(size, Image.BILINEAR)`),
//! the resize torchvision's `Resize` runs on a PIL image, reproduced to the bit.
//!
//! PIL resamples in two separable passes, horizontal then vertical, with a triangle filter
//! whose support is widened by the downscale factor (so a downscale averages every input pixel
//! under the output pixel: the antialiasing). Each output sample is a sum of input samples
//! times coefficients computed in `f64`, normalised to sum to one, then rounded to fixed point
//! with 22 bits after the point; the sum is rounded back to `u8` after each pass. Every one of
//! those roundings shows in the result, so this module follows PIL's `Resample.c`
//! (`precompute_coeffs`, `normalize_coeffs_8bpc`, `ImagingResampleHorizontal_8bpc`) step by step.
//!
//! Why not a crate: `fast_image_resize` 6.1 (which documents PIL-compatible filters) differs
//! from PIL by one level on 15% of the samples of the golden photo (500x375 to 341x256), as it
//! rounds its coefficients to a precision of its own; this module gives PIL's bytes exactly,
//! in a hundred lines and no dependency.
//!
//! Each output pixel depends only on its own coefficients, so a region of the output (the
//! center crop) is computed alone, exactly as in the whole resized image, without the rest.

use std::ops::Range;

/// Bits after the binary point of PIL's fixed-point coefficients: 32 bits, less 8 for the
/// sample and 2 of headroom.
const PRECISION_BITS: u32 = 22;

/// PIL's bilinear filter: a triangle of support 1.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

/// One axis of a resize from `input` samples to `output`, for a range of output indices: for
/// each one, the first input sample it reads and its fixed-point coefficients.
pub(crate) struct Axis {
    starts: Vec<usize>,
    /// `taps` coefficients per output sample, zero past its own count.
    coefficients: Vec<i32>,
    counts: Vec<usize>,
    taps: usize,
}

impl Axis {
    /// PIL's coefficients (`precompute_coeffs` then `normalize_coeffs_8bpc`) for the output
    /// samples `outputs` of a bilinear resize of `input` samples to `output`.
    pub(crate) fn bilinear(input: usize, output: usize, outputs: Range<usize>) -> Axis {
        debug_assert!(input > 0 && output > 0 && outputs.end <= output);
        let scale = input as f64 / output as f64;
        let filter_scale = scale.max(1.0);
        let support = filter_scale; // the triangle's support (1) times the filter scale
        let taps = support.ceil() as usize * 2 + 1;
        let inverse = 1.0 / filter_scale;
        let mut axis = Axis {
            starts: Vec::with_capacity(outputs.len()),
            coefficients: vec![0; outputs.len() * taps],
            counts: Vec::with_capacity(outputs.len()),
            taps,
        };
        let mut weights = vec![0.0f64; taps];
        for (i, out) in outputs.enumerate() {
            let center = (out as f64 + 0.5) * scale;
            // PIL rounds with `(int)(v + 0.5)`, which truncates towards zero; below zero it
            // clamps to zero either way.
            let start = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64)
                .min(input as i64)
                .max(start as i64) as usize;
            let count = (end - start).min(taps);
            let mut sum = 0.0;
            for (x, weight) in weights[..count].iter_mut().enumerate() {
                *weight = triangle(((x + start) as f64 - center + 0.5) * inverse);
                sum += *weight;
            }
            let row = &mut axis.coefficients[i * taps..][..count];
            for (fixed, &weight) in row.iter_mut().zip(&weights[..count]) {
                let weight = if sum != 0.0 { weight / sum } else { weight };
                let scaled = weight * f64::from(1u32 << PRECISION_BITS);
                *fixed = if weight < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                };
            }
            axis.starts.push(start);
            axis.counts.push(count);
        }
        axis
    }

    /// The input samples the axis reads, from the first to one past the last.
    pub(crate) fn reads(&self) -> Range<usize> {
        let first = self.starts.iter().copied().min().unwrap_or(0);
        let end = (self.starts.iter().zip(&self.counts))
            .map(|(s, c)| s + c)
            .max()
            .unwrap_or(first);
        first..end
    }

    /// Output sample `i`'s first input sample and its coefficients.
    fn tap(&self, i: usize) -> (usize, &[i32]) {
        (
            self.starts[i],
            &self.coefficients[i * self.taps..][..self.counts[i]],
        )
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// A fixed-point sum back to `u8`, as PIL's `clip8`: drop the fraction, clamp to 0..=255.
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The fixed-point sum of `samples` (one channel, `stride` bytes apart) times `coefficients`,
/// starting from PIL's rounding half.
fn convolve(samples: &[u8], stride: usize, coefficients: &[i32]) -> u8 {
    let mut sum = 1i32 << (PRECISION_BITS - 1);
    for (k, &c) in coefficients.iter().enumerate() {
        sum += i32::from(samples[k * stride]) * c;
    }
    clip8(sum)
}

/// Rows `rows` and columns `columns` of a `width`x`height` RGB image (`pixels`, row-major,
/// three bytes a pixel) resized to `out_width`x`out_height`, as PIL resizes it: a horizontal
/// pass, rounded to `u8`, then a vertical one. The region is returned row-major.
pub(crate) fn resize_region(
    pixels: &[u8],
    [height, width]: [usize; 2],
    [out_height, out_width]: [usize; 2],
    rows: Range<usize>,
    columns: Range<usize>,
) -> Vec<u8> {
    let vertical = Axis::bilinear(height, out_height, rows);
    let horizontal = Axis::bilinear(width, out_width, columns);
    let reads = vertical.reads();
    let region_width = horizontal.len();

    // Horizontal pass over the input rows the vertical pass reads.
    let mut between = vec![0u8; reads.len() * region_width * 3];
    for (row, y) in between
        .chunks_exact_mut(region_width * 3)
        .zip(reads.clone())
    {
        let line = &pixels[y * width * 3..][..width * 3];
        for (x, pixel) in row.chunks_exact_mut(3).enumerate() {
            let (start, coefficients) = horizontal.tap(x);
            for (c, out) in pixel.iter_mut().enumerate() {
                *out = convolve(&line[start * 3 + c..], 3, coefficients);
            }
        }
    }

    // Vertical pass.
    let stride = region_width * 3;
    let mut out = vec![0u8; vertical.len() * stride];
    for (y, row) in out.chunks_exact_mut(stride).enumerate() {
        let (start, coefficients) = vertical.tap(y);
        let first = &between[(start - reads.start) * stride..];
        for (i, sample) in row.iter_mut().enumerate() {
            *sample = convolve(&first[i..], stride, coefficients);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_the_identity() {
        let pixels: Vec<u8> = (0..5 * 7 * 3).map(|i| (i * 37 % 256) as u8).collect();
        assert_eq!(resize_region(&pixels, [5, 7], [5, 7], 0..5, 0..7), pixels);
    }

    #[test]
    fn coefficients_of_a_downscale_cover_the_wider_support_and_sum_to_one() {
        // 10 to 4: scale 2.5, support 2.5: output 1 (center 3.75) reads inputs 1 to 5, where
        // an unwidened triangle would read 2 to 4; output 0 is cut at the edge.
        let axis = Axis::bilinear(10, 4, 0..4);
        assert_eq!(axis.tap(1).0, 1);
        assert_eq!(axis.tap(1).1.len(), 5);
        assert_eq!(axis.tap(0).1.len(), 4);
        let one = 1i32 << PRECISION_BITS;
        for i in 0..4 {
            let (_, c) = axis.tap(i);
            let sum: i32 = c.iter().sum();
            assert!((sum - one).abs() <= c.len() as i32, "{sum} vs {one}");
        }
        assert_eq!(axis.reads(), 0..10);
    }

    #[test]
    fn a_region_is_the_same_pixels_as_the_whole_resize() {
        let (h, w) = (23, 31);
        let pixels: Vec<u8> = (0..h * w * 3).map(|i| (i * 101 % 253) as u8).collect();
        for [oh, ow] in [[9, 13], [40, 50], [23, 12]] {
            let whole = resize_region(&pixels, [h, w], [oh, ow], 0..oh, 0..ow);
            let (rows, cols) = (2..oh - 3, 1..ow - 4);
            let part = resize_region(&pixels, [h, w], [oh, ow], rows.clone(), cols.clone());
            for (r, y) in rows.enumerate() {
                let want = &whole[(y * ow + cols.start) * 3..(y * ow + cols.end) * 3];
                assert_eq!(&part[r * cols.len() * 3..][..cols.len() * 3], want);
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat_at_any_size() {
        let pixels = vec![200u8; 6 * 4 * 3];
        for size in [[1, 1], [3, 2], [17, 29]] {
            let out = resize_region(&pixels, [6, 4], size, 0..size[0], 0..size[1]);
            assert!(out.iter().all(|&v| v == 200), "{size:?}");
        }
    }
}
