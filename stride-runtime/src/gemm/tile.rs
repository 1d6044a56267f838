//! One `MR × NR` tile of `C` as a micro-kernel finishes it: where it goes ([`Tile`]), what
//! happens on the way ([`Finish`]), and the element-by-element write of the whole epilogue
//! ([`write_tile`]) that the portable kernel and the AVX2 kernel's edge tiles share.

use super::{MR, NR};
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
    /// Columns of the tile that exist in `C`, `1..=NR`.
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

/// Writes the tile's `rows × cols` corner of `acc` into `C`, element by element, with the
/// whole epilogue: the path of the portable kernel and of the AVX2 kernel's edge tiles.
///
/// # Safety
/// `tile` describes elements of one live `C` that nothing else reads or writes meanwhile.
pub(super) unsafe fn write_tile(acc: &[[f32; NR]; MR], tile: &Tile) {
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
