//! Transposed convolution by sub-pixel decomposition (XNNPACK's "subconvolution"): one
//! ordinary convolution per output phase, each a GEMM whose `B` is packed straight from the
//! input.
//!
//! Along one axis, input `i` reaches output `o = i*s + k*d - p` through tap `k`. Write an
//! output as `o = r + s*j` with its residue `r = o mod s`: it reads input `i = j + (r + p -
//! k*d) / s` through each tap `k` with `k*d ≡ r + p (mod s)`, and through no other tap. So the
//! outputs of one phase `(r_h, r_w)` (every `s_h`-th row from `r_h`, every `s_w`-th column
//! from `r_w`) are a stride-1 convolution of the input with that phase's taps, each tap at a
//! fixed input offset and reading zeros off the input's edges. A `k4 s2 p1` layer is four 2x2
//! convolutions; a phase with no taps (a kernel smaller than the stride) is the bias alone.
//!
//! Each phase and group is one GEMM: `A` is the phase's weights, `[Cout/g, Cin/g * taps]`,
//! packed once per layer ([`pack_weights`]); `B` is im2col's matrix of the input over the
//! phase's taps, `[Cin/g * taps, phase pixels]`, packed a block at a time by [`PhaseB`]. No
//! zeros are inserted into the input, no tap's product is computed only to be cropped, and
//! each output is written once, with the bias and the activation in the GEMM's epilogue,
//! where GEMM + col2im writes a `Cout/g * kh * kw`-row matrix and scatter-adds it.
//!
//! In NCHW a phase's pixels lie `s_w` apart along a row and its rows `s_h` apart, which the
//! GEMM's `C` (one row stride, one column stride) cannot describe across a row break. So a
//! task computes a block of rows of one height phase: each width phase into a scratch block
//! small enough for L2, then interleaves them into whole output rows. (One GEMM per phase
//! row straight into the output, `C` with column stride `s_w`, took 3.95 ms on the suite's
//! `convT4x4s2_128_32` against 2.88: the micro-kernel writes strided tiles element by
//! element, and a 32-column product packs its `B` for little work.)
//!
//! Only the residues some kernel tap feeds are phases here: at most `kh` along the height and
//! `kw` along the width, whatever the stride, so the packed weight holds exactly the layer's
//! weights and every table has at most a kernel's length. A stride larger than the kernel
//! (or a dilation that shares a factor with it) leaves residues without taps; their outputs
//! are the activated bias alone, written by one fill of the output before the phases run.
//!
//! Threads: a task is one sample, one group and a range of phase rows in every height phase,
//! so a single image keeps both cores busy and tasks of one layer do equal work; the tasks
//! write disjoint output rows. Small layers run on the calling thread.

use core::marker::PhantomData;
use core::ops::Range;

use stride_geometry::TransposedAxis;

use crate::gemm::{self, Epilogue, MatMut, NR, PackB, PackedA};
use crate::ops::conv_layer::Geometry;
use crate::simd::{Activation, Isa, zero};
use crate::workspace::Workspace;

/// Values in one task's scratch block (the width phases of a few output rows, all of the
/// group's channels): 128 KiB, so the block is written by the GEMM and read back by the
/// interleave in L2, next to the GEMM's own packed `B` block.
const SCRATCH: usize = 32 * 1024;

/// The fewest columns of a width phase that a task splitting a height phase takes: a few
/// [`NR`]-column panels, so that a panel's unused columns stay a small part of the work.
const MIN_TASK_COLUMNS: usize = 2 * NR;

/// A `[Cin, Cout/groups, kh, kw]` weight split into its phases and packed, one `A` per phase
/// and group.
#[derive(Clone, PartialEq)]
pub(super) struct Weights {
    /// `s_h`, `s_w`: the residues along each axis.
    strides: [usize; 2],
    /// Channel groups.
    groups: usize,
    /// `taps[axis]`: the residues of `axis` that some kernel tap feeds, in increasing order,
    /// each with those taps, in increasing order. At most the kernel's length.
    taps: [Vec<(usize, Vec<usize>)>; 2],
    /// Phase `(i, j)` (the `i`-th residue of `taps[0]`, the `j`-th of `taps[1]`) of group `g`
    /// at `[(i * taps[1].len() + j) * groups + g]`: the `[Cout/g, Cin/g * taps_h * taps_w]`
    /// matrix whose column `(c, th, tw)` holds the weights of input channel `c` at kernel
    /// row `taps[0][i].1[th]` and column `taps[1][j].1[tw]`.
    packed: Vec<PackedA>,
}

impl core::fmt::Debug for Weights {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The values are the layer's weights, printed by the layer already.
        f.debug_struct("Weights")
            .field("strides", &self.strides)
            .field("taps", &self.taps)
            .finish_non_exhaustive()
    }
}

/// The residues of `axis` that some tap feeds, each with its taps: tap `k` feeds outputs of
/// residue `r` with `k*d ≡ r + p (mod s)`. In increasing order of residue, and of tap within
/// one; at most `axis.kernel` residues. Computed in `u128`, where no product of two `usize`s
/// overflows.
fn phase_taps(axis: &TransposedAxis) -> Vec<(usize, Vec<usize>)> {
    let s = axis.stride as u128;
    let shift = axis.padding as u128 % s;
    let mut residues: Vec<(usize, Vec<usize>)> = Vec::new();
    for k in 0..axis.kernel {
        let r = ((k as u128 * axis.dilation as u128) % s + s - shift) % s;
        // Below the stride, a usize.
        let r = r as usize;
        match residues.binary_search_by_key(&r, |&(residue, _)| residue) {
            Ok(at) => residues[at].1.push(k),
            Err(at) => residues.insert(at, (r, vec![k])),
        }
    }
    residues
}

/// Outputs of residue `r` along an axis of `output` positions and stride `s`: `r`, `r + s`, …
fn phase_len(output: usize, r: usize, s: usize) -> usize {
    output.saturating_sub(r).div_ceil(s)
}

/// Where phase output `j` of residue `r` reads the input through tap `k`: input `j + offset`.
/// Clamped to `-outputs ..= inputs`, which changes no reading (a tap offset at or past
/// either end reads only padding either way) and keeps huge paddings in range.
fn tap_offset(axis: &TransposedAxis, r: usize, k: usize, outputs: usize, inputs: usize) -> isize {
    let reach = r as i128 + axis.padding as i128 - k as i128 * axis.dilation as i128;
    debug_assert_eq!(reach % axis.stride as i128, 0, "a tap of this phase");
    let offset = reach / axis.stride as i128;
    // Both bounds are sizes of allocations, so they fit in `isize`.
    offset.clamp(-(outputs as i128), inputs as i128) as isize
}

/// Splits and packs a contiguous `[Cin, Cout/groups, kh, kw]` weight, `shape`, for the
/// phases of `axes`: as many values as the weight has, whatever the stride.
pub(super) fn pack_weights(
    weight: &[f32],
    shape: (usize, usize, usize, usize),
    groups: usize,
    axes: [TransposedAxis; 2],
) -> Weights {
    let (in_channels, group_out, kh, kw) = shape;
    debug_assert_eq!(weight.len(), in_channels * group_out * kh * kw);
    debug_assert!(groups > 0 && in_channels % groups == 0);
    debug_assert_eq!((axes[0].kernel, axes[1].kernel), (kh, kw));
    let group_in = in_channels / groups;
    let strides = [axes[0].stride, axes[1].stride];
    let taps = [phase_taps(&axes[0]), phase_taps(&axes[1])];
    let [taps_h, taps_w] = &taps;
    let mut packed = Vec::with_capacity(taps_h.len() * taps_w.len() * groups);
    let mut a = Vec::new();
    for (_, rows) in taps_h {
        for (_, cols) in taps_w {
            let k = group_in * rows.len() * cols.len();
            for group in 0..groups {
                // Row-major `[Cout/g, k]`, column `(c, th, tw)`.
                a.clear();
                for co in 0..group_out {
                    for c in 0..group_in {
                        let filter = ((group * group_in + c) * group_out + co) * kh * kw;
                        for &ki in rows {
                            a.extend(cols.iter().map(|&kj| weight[filter + ki * kw + kj]));
                        }
                    }
                }
                packed.push(PackedA::row_major(&a, group_out, k));
            }
        }
    }
    Weights {
        strides,
        groups,
        taps,
        packed,
    }
}

impl Weights {
    /// The values the packed matrices hold: the weight's, every one once.
    #[cfg(test)]
    pub(super) fn values(&self) -> usize {
        self.packed.iter().map(|a| a.m() * a.k()).sum()
    }

    /// Whether some output residue of an axis of `output` positions has no tap, along either
    /// axis: then those outputs are the bias alone.
    fn has_tapless_outputs(&self, output: [usize; 2]) -> bool {
        (0..2).any(|a| {
            // Residues at or past the output size have no output.
            let residues = self.strides[a].min(output[a]);
            let fed = self.taps[a].iter().filter(|(r, _)| *r < residues).count();
            fed < residues
        })
    }
}

/// One residue of one axis, resolved for an input: how many outputs it has and where each of
/// its taps reads.
#[derive(Debug, Clone)]
struct AxisPhase {
    /// The residue, `0..s`.
    residue: usize,
    /// Outputs of this residue.
    len: usize,
    /// The input offset of each of the phase's taps (see [`tap_offset`]).
    offsets: Vec<isize>,
}

/// The residues of `axis` that have taps (`taps`, from [`phase_taps`]), for an input of
/// `inputs` and an output of `output` positions.
fn axis_phases(
    axis: &TransposedAxis,
    taps: &[(usize, Vec<usize>)],
    inputs: usize,
    output: usize,
) -> Vec<AxisPhase> {
    taps.iter()
        .map(|(r, taps)| {
            let len = phase_len(output, *r, axis.stride);
            let offsets = taps
                .iter()
                .map(|&k| tap_offset(axis, *r, k, len, inputs))
                .collect();
            AxisPhase {
                residue: *r,
                len,
                offsets,
            }
        })
        .collect()
}

/// Writes `activation(conv_transpose(x, weight) + bias)` into `y` on `isa`, all
/// contiguous and sized by `g`: `x` NCHW, `weights` from [`pack_weights`] for `g`'s axes,
/// `bias` `[Cout]`, `y` `[N, Cout, OH, OW]`. Every element of `y` is written, except, when
/// `zeroed` says `y` holds zeros, outputs no tap reaches whose activated bias is `+0.0`
/// (fresh calloc pages that a huge stride would otherwise all touch).
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_transpose2d(
    isa: Isa,
    g: &Geometry<TransposedAxis>,
    x: &[f32],
    weights: &Weights,
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
    zeroed: bool,
) {
    let [axis_h, axis_w] = g.axes;
    let ([h, w], [oh, ow]) = (g.input, g.output);
    let [sh, sw] = weights.strides;
    assert_eq!(y.len(), g.output_len(), "the output's size");
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!([sh, sw], [axis_h.stride, axis_w.stride]);
    debug_assert_eq!(weights.groups, g.groups);
    debug_assert!(bias.is_none_or(|b| b.len() == g.groups * g.group_out));

    let rows = axis_phases(&axis_h, &weights.taps[0], h, oh);
    let cols = axis_phases(&axis_w, &weights.taps[1], w, ow);
    let units = g.batch * g.groups;
    if units == 0 {
        return;
    }
    if weights.has_tapless_outputs(g.output) {
        // The outputs no tap reaches: the activated bias, written once over every output;
        // the phases overwrite the rest.
        fill_bias(y, g, bias, activation, zeroed);
    }

    // Work per sample and group: each phase's `2 * Cout/g * pixels * K`.
    let flops: usize = rows
        .iter()
        .flat_map(|r| cols.iter().map(move |c| (r, c)))
        .map(|(r, c)| {
            2 * g.group_out * r.len * c.len * g.group_in * r.offsets.len() * c.offsets.len()
        })
        .sum();
    let parallel = flops.saturating_mul(units) >= gemm::parallel_flops();
    let per_unit = if parallel {
        gemm::tasks_for(crate::threads::threads()).div_ceil(units)
    } else {
        1
    };
    // A piece of a phase multiplies the phase's whole `A` by `rows * width` columns, which
    // the micro-kernel computes in whole panels of `NR`: pieces of a small image would
    // compute mostly padding columns (a 4x4 input has 4-column phase rows).
    let width = cols.iter().map(|c| c.len).max().unwrap_or(0);
    // The height phases' lengths differ by one row at most (`phase_len`), so a task takes
    // the same range of phase rows in every height phase, and tasks of equal ranges do
    // equal work. A task per height phase and range had given the phases' tasks unequal
    // work (at stride 2 a 3x3 kernel's odd rows take two kernel rows and its even rows
    // one), which rayon's split of the list did not even out: `convT3x3s2_op1_128_16` ran
    // no faster on two threads than on one. A sample and group gets `per_unit` tasks divided
    // by its height phases, since each task now covers them all, so each product keeps the
    // columns a per-phase task had. Measured on a
    // Xeon with AVX-512 (`cargo bench --bench layers -- --suite benches/layers_more.json
    // --threads 1,2`, with the suite's and the zoo file's 3x3/2 rows; the two builds
    // alternated twice, ms at two threads, before -> after): 3x3/2 128 -> 64 at 16
    // 0.31 -> 0.22-0.23, 64 -> 32 at 32 0.33-0.34 -> 0.26-0.27, 256 -> 128 at 8 0.34-0.35
    // -> 0.22-0.23, 64 -> 64 at 56 1.61-1.64 -> 1.39-1.41, 5x5/2 64 -> 64 at 28 0.98-1.01
    // -> 0.82, 4x4/2 256 -> 128 at 16 1.10-1.12 -> 1.09-1.10; one thread within 4%.
    let tall = rows.iter().map(|r| r.len).max().unwrap_or(0);
    let pieces = per_unit
        .div_ceil(rows.len().max(1))
        .min((tall * width / MIN_TASK_COLUMNS).max(1));

    // Task: (sample * groups + group, its phase rows in every height phase).
    let mut tasks = Vec::new();
    if width > 0 {
        for unit in 0..units {
            for t in 0..pieces {
                tasks.push((unit, t * tall / pieces..(t + 1) * tall / pieces));
            }
        }
    }

    let out = Rows::new(y, ow);
    let run = |(unit, range): (usize, Range<usize>)| {
        let group = unit % g.groups;
        for (ih, row) in rows.iter().enumerate() {
            let range = range.start.min(row.len)..range.end.min(row.len);
            if range.is_empty() {
                continue;
            }
            let task = Task {
                isa,
                g,
                x: &x[unit * g.group_in * h * w..][..g.group_in * h * w],
                weights,
                cols: &cols,
                row,
                ih,
                group,
                epilogue: Epilogue::finish(
                    bias.map(|b| &b[group * g.group_out..][..g.group_out]),
                    activation,
                ),
                first_row: unit * g.group_out * oh,
            };
            task.run(&out, range);
        }
    };
    if parallel {
        crate::threads::for_each(tasks, run);
    } else {
        tasks.into_iter().for_each(run);
    }
}

/// Sets every output plane of `y` (`[N, Cout, OH, OW]`, sized by `g`) to its channel's
/// activated bias (the activation of 0 without a bias); a plane of `+0.0` is left alone when
/// `zeroed` says it already is.
fn fill_bias(
    y: &mut [f32],
    g: &Geometry<TransposedAxis>,
    bias: Option<&[f32]>,
    activation: Activation,
    zeroed: bool,
) {
    let plane = g.output[0] * g.output[1];
    let channels = g.groups * g.group_out;
    for (i, p) in y.chunks_exact_mut(plane).enumerate() {
        let value = activation.apply(bias.map_or(0.0, |b| b[i % channels]));
        if !(zeroed && value.to_bits() == 0) {
            p.fill(value);
        }
    }
}

/// What a task needs to compute rows of one height phase of one sample and group.
struct Task<'a> {
    isa: Isa,
    g: &'a Geometry<TransposedAxis>,
    /// The group's `Cin/g` input planes.
    x: &'a [f32],
    weights: &'a Weights,
    /// The width phases.
    cols: &'a [AxisPhase],
    /// The height phase.
    row: &'a AxisPhase,
    /// Its index in the height's phases.
    ih: usize,
    /// The group.
    group: usize,
    /// The group's bias, and the activation.
    epilogue: Epilogue<'a>,
    /// The index, among all output rows of the tensor (`[N * Cout * OH]`), of row 0 of the
    /// group's first channel.
    first_row: usize,
}

impl Task<'_> {
    /// Computes and writes phase rows `range` (output rows `r_h + s_h * j` for `j` in it) of
    /// every channel of the group, a scratch block at a time.
    fn run(&self, out: &Rows, range: Range<usize>) {
        let g = self.g;
        let [oh, ow] = g.output;
        let [sh, sw] = self.weights.strides;
        let group_out = g.group_out;
        let chunk = (SCRATCH / (group_out * ow)).max(1);
        // The width phases of `chunk` rows, from this thread's workspace.
        let block_len = group_out * chunk.min(range.len()) * ow;
        Workspace::with(block_len, |block| {
            for start in range.clone().step_by(chunk) {
                let rows = chunk.min(range.end - start);
                // The width phases' blocks, one after another: phase `jw` is
                // `[Cout/g, rows * len]`, its column `j * len + jx` output column
                // `r_w + sw * jx` of phase row `start + j`.
                let mut parts: Vec<&[f32]> = Vec::with_capacity(self.cols.len());
                let mut rest = &mut block[..group_out * rows * ow];
                for (jw, col) in self.cols.iter().enumerate() {
                    let (part, tail) = rest.split_at_mut(group_out * rows * col.len);
                    rest = tail;
                    if col.len > 0 {
                        let phase = self.ih * self.cols.len() + jw;
                        let a = &self.weights.packed[phase * g.groups + self.group];
                        let b = PhaseB {
                            isa: self.isa,
                            x: self.x,
                            channels: g.group_in,
                            input: g.input,
                            offsets: [&self.row.offsets, &col.offsets],
                            width: col.len,
                            height: self.row.len,
                        };
                        let c = MatMut::row_major(part, group_out, rows * col.len);
                        gemm::gemm_serial(self.isa, a, &b, start * col.len, c, &self.epilogue);
                    }
                    parts.push(part);
                }
                for co in 0..group_out {
                    for j in 0..rows {
                        let oy = self.row.residue + sh * (start + j);
                        // SAFETY: output row `oy` of channel `co` of this sample and group
                        // belongs to this task alone (its height residue and phase row), and
                        // nothing else refers to it while the task runs.
                        let line = unsafe { out.row(self.first_row + co * oh + oy) };
                        interleave(line, &parts, self.cols, co * rows + j, sw);
                    }
                }
            }
        });
    }
}

/// Writes one output row from its width phases: column `r_w + sw * jx`, for the residue `r_w`
/// of `cols[i]`, is value `jx` of row `line` of `parts[i]` (whose rows are `cols[i].len`
/// long). Columns of residues without taps are left as they are (the bias fill).
#[inline]
fn interleave(out: &mut [f32], parts: &[&[f32]], cols: &[AxisPhase], line: usize, sw: usize) {
    let source = |i: usize| &parts[i][line * cols[i].len..][..cols[i].len];
    // Every residue has taps (the usual layer): they are `0..sw`, in order.
    let whole = cols.len() == sw;
    match sw {
        1 if whole => out.copy_from_slice(source(0)),
        2 if whole => {
            let (even, odd) = (source(0), source(1));
            let pairs = out.chunks_exact_mut(2);
            for ((pair, &a), &b) in pairs.zip(even).zip(odd) {
                pair[0] = a;
                pair[1] = b;
            }
            if out.len() % 2 == 1 {
                out[out.len() - 1] = even[even.len() - 1];
            }
        }
        _ => {
            for (i, col) in cols.iter().enumerate().filter(|(_, c)| c.len > 0) {
                let values = source(i);
                for (o, &v) in out[col.residue..].iter_mut().step_by(sw).zip(values) {
                    *o = v;
                }
            }
        }
    }
}

/// The output tensor as rows of `width` values, handed out one row at a time to tasks that
/// write disjoint rows.
struct Rows<'a> {
    ptr: *mut f32,
    len: usize,
    width: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `Rows` is a unique borrow of the output; it gives out `&mut` rows only through
// the unsafe `row`, whose callers promise that no two live ones are the same row, so sharing
// it between threads is like sharing disjoint `&mut [f32]`s.
unsafe impl Sync for Rows<'_> {}

impl<'a> Rows<'a> {
    fn new(data: &'a mut [f32], width: usize) -> Self {
        debug_assert!(width > 0 && data.len() % width == 0);
        Rows {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            width,
            _borrow: PhantomData,
        }
    }

    /// Row `index`.
    ///
    /// # Safety
    /// No other reference to this row is live while the result is.
    #[allow(clippy::mut_from_ref)] // The caller's promise makes the row unique.
    unsafe fn row(&self, index: usize) -> &mut [f32] {
        assert!(
            (index + 1) * self.width <= self.len,
            "the row lies in the output"
        );
        // SAFETY: in bounds (checked above), inside the slice this borrows uniquely; the
        // caller promises the row is not referred to elsewhere.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(index * self.width), self.width) }
    }
}

/// im2col's matrix of one phase, `[Cin/g * taps_h * taps_w, height * width]`, read from the
/// group's `Cin/g` input planes: row `(c, th, tw)`, column `j * width + jx` is input
/// `(c, j + offsets[0][th], jx + offsets[1][tw])`, or 0 off the input's edges.
pub(super) struct PhaseB<'a> {
    /// The instruction set of the copies.
    pub isa: Isa,
    /// The input planes, `[channels, input[0], input[1]]`.
    pub x: &'a [f32],
    /// Input channels of the group.
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// The input offsets of the phase's taps along each axis.
    pub offsets: [&'a [isize]; 2],
    /// Phase columns per phase row.
    pub width: usize,
    /// Phase rows.
    pub height: usize,
}

impl PackB for PhaseB<'_> {
    fn k(&self) -> usize {
        self.channels * self.offsets[0].len() * self.offsets[1].len()
    }

    fn n(&self) -> usize {
        self.height * self.width
    }

    /// Row by row: row `(c, th, tw)` of `B` is input plane `c` read at a fixed offset,
    /// `(offsets[0][th], offsets[1][tw])`, with zeros where that looks off the plane.
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        let [h, w] = self.input;
        let [offsets_h, offsets_w] = self.offsets;
        let taps = offsets_h.len() * offsets_w.len();
        let width = nc.div_ceil(NR) * NR;
        debug_assert!(k0 + kc <= self.k() && j0 + nc <= self.n());
        debug_assert!(kc == 0 || dst.len() >= (kc - 1) * row_stride + width);
        debug_assert_eq!(self.x.len(), self.channels * h * w);

        // The phase rows the block meets.
        let block_rows = j0 / self.width..(j0 + nc).div_ceil(self.width);
        // The row `(c, th, tw)` of `k0`, then counted up rather than divided out per row.
        let (mut c, mut th, mut tw) =
            (k0 / taps, k0 % taps / offsets_w.len(), k0 % offsets_w.len());
        for p in 0..kc {
            let (line, padding) = dst[p * row_stride..p * row_stride + width].split_at_mut(nc);
            zero(padding);
            let plane = &self.x[c * h * w..][..h * w];
            let (dy, dx) = (offsets_h[th], offsets_w[tw]);
            // The phase rows whose input row `j + dy` lies in `0..h`, and the phase columns
            // whose input column `jx + dx` lies in `0..w`.
            let rows = clamped(-dy, h as isize - dy, self.height);
            let cols = clamped(-dx, w as isize - dx, self.width);
            if self.width == w {
                let shift = dy * w as isize + dx;
                self.pack_shifted(line, plane, j0, &block_rows, shift, rows, cols);
            } else {
                self.pack_segments(line, plane, j0, dy, dx, rows, cols);
            }
            tw += 1;
            if tw == offsets_w.len() {
                tw = 0;
                th += 1;
                if th == offsets_h.len() {
                    th = 0;
                    c += 1;
                }
            }
        }
    }
}

/// `start..end` clamped to `0..=limit`, empty if it was.
fn clamped(start: isize, end: isize, limit: usize) -> Range<usize> {
    let start = start.clamp(0, limit as isize) as usize;
    start..(end.clamp(start as isize, limit as isize) as usize)
}

impl PhaseB<'_> {
    /// Columns `j0 .. j0 + line.len()` of one row of `B` when a phase row is as wide as an
    /// input row (a kernel of `2 * padding + stride`, the usual upsampling layer): then
    /// column `n` reads `plane[n + shift]`, so the whole block is one copy, with the columns
    /// that look past the left or right edge zeroed after it. `block_rows` are the phase rows
    /// the block meets; `rows` and `cols` the phase rows and columns that read inside the
    /// plane.
    #[allow(clippy::too_many_arguments)]
    fn pack_shifted(
        &self,
        line: &mut [f32],
        plane: &[f32],
        j0: usize,
        block_rows: &Range<usize>,
        shift: isize,
        rows: Range<usize>,
        cols: Range<usize>,
    ) {
        let (w, end) = (self.width, j0 + line.len());
        if cols.is_empty() {
            zero(line);
            return;
        }
        // Columns `a..b` lie in rows that read the plane; their source `n + shift` is in it
        // except at the ends, where the column is past an edge and is zeroed below.
        let a = (rows.start * w).clamp(j0, end);
        let b = (rows.end * w).clamp(a, end);
        zero(&mut line[..a - j0]);
        zero(&mut line[b - j0..]);
        let inside = (-shift).clamp(a as isize, b as isize) as usize
            ..((plane.len() as isize - shift).clamp(a as isize, b as isize) as usize);
        let inside = inside.start..inside.end.max(inside.start);
        zero(&mut line[a - j0..inside.start - j0]);
        if !inside.is_empty() {
            let from = (inside.start as isize + shift) as usize;
            self.isa.copy(
                &mut line[inside.start - j0..inside.end - j0],
                &plane[from..from + inside.len()],
            );
        }
        zero(&mut line[inside.end - j0..b - j0]);
        if cols.len() < w {
            // Each phase row's columns before `cols.start` and from `cols.end`, in the rows
            // that read the plane and that the block meets.
            let meets = rows.start.max(block_rows.start)..rows.end.min(block_rows.end);
            for row in meets.map(|j| j * w) {
                for edge in [row..row + cols.start, row + cols.end..row + w] {
                    let (s, e) = (edge.start.clamp(j0, end), edge.end.clamp(j0, end));
                    if s < e {
                        zero(&mut line[s - j0..e - j0]);
                    }
                }
            }
        }
    }

    /// Columns `j0 .. j0 + line.len()` of one row of `B`, one segment per phase row: a run
    /// of input values flanked by zeros where the tap looks past the left or right edge, or
    /// zeros alone where it looks above or below the plane. `rows` and `cols` as in
    /// [`PhaseB::pack_shifted`].
    #[allow(clippy::too_many_arguments)]
    fn pack_segments(
        &self,
        line: &mut [f32],
        plane: &[f32],
        j0: usize,
        dy: isize,
        dx: isize,
        rows: Range<usize>,
        cols: Range<usize>,
    ) {
        let [_, w] = self.input;
        let nc = line.len();
        let (mut j, mut jx0, mut at) = (j0 / self.width, j0 % self.width, 0);
        while at < nc {
            let jx1 = self.width.min(jx0 + (nc - at));
            let segment = &mut line[at..at + (jx1 - jx0)];
            if rows.contains(&j) {
                // Columns jx0..a and b..jx1 read padding; a..b read the input row.
                let a = cols.start.clamp(jx0, jx1);
                let b = cols.end.clamp(a, jx1);
                let (head, rest) = segment.split_at_mut(a - jx0);
                let (body, tail) = rest.split_at_mut(b - a);
                zero(head);
                let from = ((j as isize + dy) as usize) * w + (a as isize + dx) as usize;
                self.isa.copy(body, &plane[from..from + body.len()]);
                zero(tail);
            } else {
                zero(segment);
            }
            at += jx1 - jx0;
            (j, jx0) = (j + 1, 0);
        }
    }
}
