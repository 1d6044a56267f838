//! The driver of the spatial ops that work on each `[H, W]` plane on its own (pools,
//! upsampling): it hands a kernel one contiguous input plane and its output plane at a time,
//! splitting the planes over the crate's threads (`crate::threads::for_each`) when there is enough
//! work.

use crate::{Result, memory};
use ndarray::{Array4, ArrayView4};

/// Planes are split over threads only when the call reads and writes at least twice this many
/// elements, and then in runs of at least this many: below that, handing work to another
/// thread costs more than it saves.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Applies `kernel(input_plane, output_plane)` to each of the `N*C` planes of `x` and of `y`,
/// the `[N, C, OH, OW]` output the caller allocated (with [`memory::zeros`], or
/// [`memory::overwritten`] when `kernel` writes every value, so that an
/// output too large is refused before any table sized by it is made), and returns `y`.
///
/// Both planes are row-major slices, so kernels walk contiguous rows: `x` is copied to the
/// standard layout first if it is not already in it (refused, naming `op`, when the copy
/// cannot be allocated). The caller has checked that the input and output planes are
/// non-empty.
pub(crate) fn map_planes(
    op: &'static str,
    x: ArrayView4<f32>,
    y: Array4<f32>,
    kernel: impl Fn(&[f32], &mut [f32]) + Sync,
) -> Result<Array4<f32>> {
    map_planes_with(op, x, y, || (), |(), x, y| kernel(x, y))
}

/// [`map_planes`] for a kernel that needs working memory: each run of planes makes its own with
/// `scratch()` and hands it to every plane it runs `kernel(scratch, input, output)` on.
pub(crate) fn map_planes_with<S>(
    op: &'static str,
    x: ArrayView4<f32>,
    mut y: Array4<f32>,
    scratch: impl Fn() -> S + Sync,
    kernel: impl Fn(&mut S, &[f32], &mut [f32]) + Sync,
) -> Result<Array4<f32>> {
    let (n, c, h, w) = x.dim();
    let (_, _, oh, ow) = y.dim();
    debug_assert!(h > 0 && w > 0 && oh > 0 && ow > 0);
    debug_assert_eq!((n, c), (y.dim().0, y.dim().1));
    if y.is_empty() {
        return Ok(y);
    }
    let x = memory::standard_layout(op, "input copy", x)?;
    let input = x.as_slice().expect("a standard-layout array is one slice");
    let out = y.as_slice_mut().expect("a new array is one slice");
    for_each_plane((input, h * w), (out, oh * ow), scratch, |s, _, x, y| {
        kernel(s, x, y)
    });
    Ok(y)
}

/// Runs `kernel(scratch, index, input_plane, output_plane)` on each pair of planes, `input`
/// cut into planes of `plane_in` elements and `output` into as many of `plane_out`, in runs
/// of planes over the crate's threads when there is enough work. Each run makes its scratch
/// once with `scratch()`. Both plane sizes are at least 1.
pub(crate) fn for_each_plane<S>(
    (input, plane_in): (&[f32], usize),
    (output, plane_out): (&mut [f32], usize),
    scratch: impl Fn() -> S + Sync,
    kernel: impl Fn(&mut S, usize, &[f32], &mut [f32]) + Sync,
) {
    debug_assert!(plane_in > 0 && plane_out > 0);
    debug_assert_eq!(input.len() / plane_in, output.len() / plane_out);
    let planes = input.len() / plane_in;
    let per_plane = plane_in + plane_out;
    let parallel = crate::threads::threads() > 1
        && planes > 1
        && planes.saturating_mul(per_plane) >= 2 * PARALLEL_MIN_ELEMENTS;
    // Runs of at least `PARALLEL_MIN_ELEMENTS`, as many as the kernels' other splits make.
    let tasks = if parallel {
        let most = planes.saturating_mul(per_plane) / PARALLEL_MIN_ELEMENTS;
        crate::gemm::tasks_for(crate::threads::threads()).min(most)
    } else {
        1
    };
    let per_task = planes.div_ceil(tasks.max(1));
    let runs: Vec<_> = input
        .chunks(per_task * plane_in)
        .zip(output.chunks_mut(per_task * plane_out))
        .enumerate()
        .collect();
    crate::threads::for_each(runs, |(run, (x, y))| {
        let mut s = scratch();
        let pairs = x.chunks_exact(plane_in).zip(y.chunks_exact_mut(plane_out));
        for (i, (x, y)) in pairs.enumerate() {
            kernel(&mut s, run * per_task + i, x, y);
        }
    });
}
