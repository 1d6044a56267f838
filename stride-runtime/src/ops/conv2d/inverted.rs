//! The core of MobileNetV2's and EfficientNet's inverted residual block, fused: a 1x1
//! expansion (batch norm folded, activation applied as it writes) and the depthwise
//! convolution after it, computed a band of output rows at a time. Each band expands just the
//! input rows its depthwise outputs read into the thread's workspace ([`Workspace`]), then
//! convolves them into the band's rows of every output channel. The expanded map is never
//! whole: in the networks' first blocks it is several times the L2 (96 channels of 112x112 are
//! 4.8 MB), and written out by the expansion and read back by the depthwise layer it cost more
//! than both layers' arithmetic.
//!
//! Each band recomputes the expanded rows it shares with the band before it: the kernel's
//! reach less the stride, at the seam. For MobileNetV2's 96 channels of 112 columns, a band
//! of 3 output rows at stride 2 expands 7 rows, 6 of them new: a sixth more expansion, for a
//! map that stays in L2. Both layers run their own kernels (the expansion's, as alone:
//! [`pointwise`] for few input channels on AVX-512, else [`gemm::gemm_serial`], over the
//! band's input rows read in place, then
//! [`depthwise::depthwise_strided`]), each output value summed in the same order as unfused,
//! so the result is the two layers' bit for bit on the scalar and AVX-512 paths. On AVX2 the
//! GEMM finishes a tile's last columns with the scalar form of the activation, a few ulps from
//! the vector form for the smooth ones (SiLU, hard swish), and a band's columns end elsewhere
//! than the whole map's: there the two differ by those ulps. The bands do not depend on the
//! thread count and are what is split over the threads, so the result does not either.
//!
//! Where it applies ([`pair`]): the expansion is a 1x1, stride-1, unpadded, one-group GEMM
//! layer, the second a depthwise layer on its output, whose padding at the top and bottom is
//! less than its kernel's reach (every band reads some input row), and one sample's expanded
//! map is larger than [`FUSE_ABOVE`]. At 224x224 that is the first expansion of MobileNetV2
//! and of EfficientNet-B0 (16 -> 96 channels at 112x112, then a 3x3 depthwise layer at stride
//! 2); larger inputs fuse more blocks.
//!
//! Measured on the 2-vCPU AMD EPYC Zen 5 of the depthwise kernel's figures, one thread, batch
//! 1, the medians of three runs of `cargo bench --bench networks -- --net NET --batch 1
//! --threads 1 --profile` per setting, alternated, on a machine shared with other builds:
//! MobileNetV2's two layers took 1.04 + 0.25 ms unfused and 0.57 ms fused, EfficientNet-B0's
//! (SiLU) 0.95 + 0.29 ms and 0.74 ms. The next blocks (144 channels of 56x56, 1.8 MB) took
//! 0.22 + 0.11 ms and 0.29-0.30 fused in MobileNetV2, 0.23 + 0.19 and 0.42-0.45 in
//! EfficientNet-B0, and its 5x5 at stride 2 0.21 + 0.10 and 0.33-0.39: hence
//! [`FUSE_ABOVE`]. Those figures are the GEMM's expansion; with [`pointwise`]'s (AVX-512, at
//! most 128 input channels), MobileNetV2's first pair takes 0.31-0.34 ms fused and
//! EfficientNet-B0's 0.53 (same command). The cut was not measured again with it.

use ndarray::{Array4, ArrayView4};

use super::depthwise::{self, Depthwise};
use super::pointwise;
use super::shared::SharedOutput;
use super::{Algorithm, Conv2d, Geometry, OP, Window, with_slices};
use crate::gemm::{self, Epilogue, MatMut, StridedB};
use crate::simd::Isa;
use crate::workspace::Workspace;
use crate::{Result, memory};
use stride_geometry::conv_output;

/// Bytes of one sample's expanded map above which the two layers are fused: twice the L2 of
/// one core (1 MiB on Zen 4 and 5). Measured in the networks (module docs): 96 channels of
/// 112x112 (4.8 MB) gain about half their time; 144 of 56x56 (1.8 MB, at stride 1 and 2,
/// with ReLU6 and SiLU) gain a tenth at most and lose up to a fifth, the recomputed seam rows
/// costing about what the round trip through the caches did.
const FUSE_ABOVE: usize = 2 << 20;

/// Bytes of expanded rows a band computes at most: about a third of the L2, leaving room for
/// the band's input rows, its output rows and the depthwise kernel's staged rows.
const BAND_BYTES: usize = 384 << 10;

/// The two layers' geometries for an input of shape `input` (`[N, C, H, W]`) when `expand`
/// then `depthwise` run fused (see the module docs), else `None`.
pub(crate) fn pair(
    expand: &Conv2d,
    depthwise: &Conv2d,
    input: [usize; 4],
) -> Option<(Geometry<Window>, Geometry<Window>)> {
    let (ge, gd) = geometries(expand, depthwise, input)?;
    let bytes = ge.group_out * ge.input[0] * ge.input[1] * size_of::<f32>();
    (bytes > FUSE_ABOVE).then_some((ge, gd))
}

/// The two layers' geometries for an input of shape `input` when the fused path can compute
/// them, whatever the size: [`pair`] but the size rule.
fn geometries(
    expand: &Conv2d,
    depthwise: &Conv2d,
    input: [usize; 4],
) -> Option<(Geometry<Window>, Geometry<Window>)> {
    if expand.algorithm != Algorithm::Im2col || depthwise.algorithm != Algorithm::Depthwise {
        return None;
    }
    let [n, c, h, w] = input;
    if n == 0 {
        return None;
    }
    // The geometries need an input only for its shape: one value, broadcast.
    let one = [0.0f32];
    let one = ArrayView4::from_shape((1, 1, 1, 1), &one).ok()?;
    let x = one.broadcast((n, c, h, w))?;
    let ge = expand.layer.resolve(x).ok()?;
    let expanded = one.broadcast(ge.output_shape())?;
    let gd = depthwise.layer.resolve(expanded).ok()?;
    let rows = gd.axes[0];
    let reach = rows.effective_kernel();
    let fits =
        ge.groups == 1 && ge.is_pointwise() && rows.pad_begin < reach && rows.pad_end < reach;
    fits.then_some((ge, gd))
}

/// `depthwise(expand(x))` by bands of output rows, for layers [`geometries`] accepts for
/// `x`'s shape, on `isa`, each band expanding at most about `band_bytes` of rows (at least
/// the kernel's reach). Refuses (as the two layers would) an output too large to allocate.
fn banded(
    isa: Isa,
    expand: &Conv2d,
    depthwise: &Conv2d,
    x: ArrayView4<f32>,
    band_bytes: usize,
) -> Result<Array4<f32>> {
    let (n, c, h, w) = x.dim();
    let (ge, gd) = geometries(expand, depthwise, [n, c, h, w])
        .expect("the caller checked the pair with `pair`");
    let [oh, ow] = gd.output;
    let rows = gd.axes[0];
    let expanded = ge.group_out;
    let plane_in = h * w;
    let plane_out = oh * ow;
    // Output rows a band computes: as many as `BAND_BYTES` of expanded rows feed, at least 1.
    let reach = rows.effective_kernel();
    let band_rows = (band_bytes / (expanded * w * size_of::<f32>())).max(reach);
    // The output rows `band_rows` unpadded input rows give, by the one output rule.
    let unpadded = Window {
        pad_begin: 0,
        pad_end: 0,
        ..rows
    };
    let per_band = conv_output(band_rows, unpadded).map_or(1, |rows| rows.min(oh));
    let bands = oh.div_ceil(per_band);

    let mut y = memory::uninit(OP, "output", ndarray::Dim(gd.output_shape()))?;
    let out = SharedOutput::uninit(contiguous_mut(&mut y));
    let weights = &expand.im2col_weights()[0];
    let dw_weight = depthwise.layer.weight_slice();
    let dw_bias = depthwise.bias();
    let dw_bias = dw_bias.as_ref().map(|b| b.as_standard_layout());
    let dw_bias = dw_bias.as_ref().map(|b| super::contiguous(b.as_slice()));
    let cout = gd.groups * gd.group_out;
    // The expansion's kernel: as the layer alone would choose (`super::apply`).
    let small_k = pointwise::takes(isa, &ge);
    with_slices(OP, x, expand.bias(), |x, bias| {
        let epilogue = Epilogue::finish(bias, expand.activation());
        let tasks: Vec<(usize, usize)> = (0..n)
            .flat_map(|sample| (0..bands).map(move |band| (sample, band)))
            .collect();
        crate::threads::for_each(tasks, |(sample, band)| {
            let (o0, o1) = (band * per_band, ((band + 1) * per_band).min(oh));
            // The input rows the band's outputs read, padding left out.
            let first = (o0 * rows.stride).saturating_sub(rows.pad_begin);
            let end = ((o1 - 1) * rows.stride + reach)
                .saturating_sub(rows.pad_begin)
                .min(h);
            debug_assert!(
                first < end,
                "`pair` keeps the pads below the kernel's reach"
            );
            let local = Depthwise {
                input: [end - first, w],
                output: [o1 - o0, ow],
                kernel: [rows.kernel, gd.axes[1].kernel],
                stride: [rows.stride, gd.axes[1].stride],
                dilation: [rows.dilation, gd.axes[1].dilation],
                pad: [
                    first + rows.pad_begin - o0 * rows.stride,
                    gd.axes[1].pad_begin,
                ],
            };
            let cols = (end - first) * w;
            let x = &x[sample * c * plane_in + first * w..];
            Workspace::with(expanded * cols, |band| {
                if small_k {
                    // SAFETY: `band` is `expanded` rows of `cols` values, this task's own.
                    unsafe {
                        let y = band.as_mut_ptr();
                        let panels = 0..weights.m().div_ceil(gemm::MR);
                        // The band is this thread's scratch, in its caches: no asking ahead.
                        pointwise::serial(
                            isa, weights, panels, x, plane_in, cols, y, cols, false, &epilogue,
                        );
                    }
                } else {
                    let b = StridedB::new(x, c, cols, plane_in, 1);
                    let c = MatMut::row_major(band, expanded, cols);
                    gemm::gemm_serial(isa, weights, &b, 0, c, &epilogue);
                }
                // SAFETY: rows `o0..o1` of every output plane of `sample`, which no other
                // task writes (the bands of a sample are disjoint), inside `y`.
                unsafe {
                    let y = out.at(sample * cout * plane_out + o0 * ow);
                    depthwise::depthwise_strided(
                        isa,
                        &local,
                        band,
                        dw_weight,
                        dw_bias,
                        depthwise.activation(),
                        y,
                        plane_out,
                    );
                }
            });
        });
    })?;
    // SAFETY: the bands cover every output row of every sample and channel, and the
    // depthwise kernel writes every value of its rows (see `super::written`).
    Ok(unsafe { y.assume_init() })
}

impl Conv2d {
    /// Whether this layer (a 1x1 expansion) and `depthwise` after it run fused on an input of
    /// shape `input` ([`pair`]): what the executor and the memory plan ask.
    pub(crate) fn fuses_with(&self, depthwise: &Conv2d, input: [usize; 4]) -> bool {
        pair(self, depthwise, input).is_some()
    }

    /// `depthwise(self(x))`, fused (the module docs), for a pair that
    /// [`Conv2d::fuses_with`] accepts for `x`'s shape.
    pub(crate) fn forward_with_depthwise(
        &self,
        depthwise: &Conv2d,
        x: ArrayView4<f32>,
    ) -> Result<Array4<f32>> {
        banded(Isa::detect(), self, depthwise, x, BAND_BYTES)
    }
}

/// The output's values, uninitialised, as a slice.
fn contiguous_mut(
    y: &mut Array4<core::mem::MaybeUninit<f32>>,
) -> &mut [core::mem::MaybeUninit<f32>] {
    super::contiguous(y.as_slice_mut())
}

#[cfg(test)]
mod tests;
