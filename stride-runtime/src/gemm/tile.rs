//! One tile of `C` as a micro-kernel finishes it (`MR × NR`, or `MR × NR_WIDE` on AVX-512):
//! where it goes ([`Tile`]), what happens on the way ([`Finish`]), and the element-by-element
//! write of the whole epilogue ([`write_tile`]) that the portable kernel and the vector
//! kernels' odd tiles share.

use crate::simd::Activation;

/// Where a finished tile goes and what happens on the way.
#[derive(Debug)]
pub(crate) struct Tile<'a> {
    /// Element `(0, 0)` of the tile in `C`.
    pub c: *mut f32,
    /// Distance between rows of `C`.
    pub row_stride: usize,
    /// Distance between columns of `C`.
    pub col_stride: usize,
    /// Rows of the tile that exist in `C`, `1..=MR`.
    pub rows: usize,
    /// Columns of the tile that exist in `C`, from 1 to the kernel's width
    /// ([`super::kernel::width`]).
    pub cols: usize,
    /// Add the tile to `C`'s current values instead of overwriting them.
    pub load: bool,
    /// For the last `K` block only: the bias of the tile's rows and the activation.
    pub finish: Option<Finish<'a>>,
}

/// The end of the epilogue, applied once a tile has its whole sum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finish<'a> {
    /// The bias of the tile's `rows` rows.
    pub bias: Option<&'a [f32]>,
    /// The activation.
    pub activation: Activation,
}

/// Writes the tile's `rows × cols` corner of `acc` (rows of `W` values, `cols <= W`) into
/// `C`, element by element, with the whole epilogue: the path of the portable kernel and of
/// the vector kernels' tiles that are not contiguous rows.
///
/// # Safety
/// `tile` describes elements of one live `C` that nothing else reads or writes meanwhile.
pub(super) unsafe fn write_tile<const W: usize>(acc: &[[f32; W]], tile: &Tile) {
    debug_assert!(tile.rows <= acc.len() && tile.cols <= W);
    for (i, row) in acc.iter().enumerate().take(tile.rows) {
        let bias = tile.finish.and_then(|f| f.bias).map_or(0.0, |b| b[i]);
        for (j, &v) in row.iter().enumerate().take(tile.cols) {
            // SAFETY: `i < rows` and `j < cols`, inside the tile the caller vouched for.
            let c = unsafe { tile.c.add(i * tile.row_stride + j * tile.col_stride) };
            let mut v = v;
            if tile.load {
                // SAFETY: as above.
                v += unsafe { *c };
            }
            if let Some(finish) = tile.finish {
                v = finish.activation.apply(v + bias);
            }
            // SAFETY: as above.
            unsafe { *c = v };
        }
    }
}
