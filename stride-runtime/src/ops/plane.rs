//! The driver of the spatial ops that work on each `[H, W]` plane on its own (pools,
//! upsampling): it hands a kernel one contiguous input plane and its output plane at a time.

use ndarray::{Array4, ArrayView4};

/// Applies `kernel(input_plane, output_plane)` to each of the `N*C` planes of `x`, in C order,
/// and returns the `[N, C, output[0], output[1]]` result.
///
/// Both planes are row-major slices, so kernels walk contiguous rows: `x` is copied to the
/// standard layout first if it is not already in it. The caller has checked that the input and
/// output planes are non-empty.
pub(crate) fn map_planes(
    x: ArrayView4<f32>,
    output: [usize; 2],
    mut kernel: impl FnMut(&[f32], &mut [f32]),
) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    debug_assert!(h > 0 && w > 0 && output[0] > 0 && output[1] > 0);
    let x = x.as_standard_layout();
    let input = x.as_slice().expect("a standard-layout array is one slice");
    let mut y = Array4::zeros((n, c, output[0], output[1]));
    let out = y.as_slice_mut().expect("a new array is one slice");
    for (x_plane, y_plane) in input
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(output[0] * output[1]))
    {
        kernel(x_plane, y_plane);
    }
    y
}
