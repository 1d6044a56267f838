//! One tile of F(4x4, 3x3): its sizes, and where one tile of a block reads and writes
//! ([`Place`]). Shared by the block driver (`winograd.rs`) and the transforms (`scalar.rs`,
//! `avx2.rs`), which import it from here rather than from the driver that calls them.

/// Outputs per tile side: the `m` of F(m x m, 3x3).
pub(super) const OUT: usize = 4;
/// Transformed tile side, `m + 3 - 1`.
pub(super) const SIDE: usize = 6;
/// Transform positions of a tile, one GEMM each.
pub(super) const POSITIONS: usize = SIDE * SIDE;
/// Tiles a transform call handles: one per lane of an AVX2 vector.
pub(super) const LANES: usize = 8;

/// Where one tile of a block reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Place {
    /// Offset of the tile's 6x6 patch (and two columns beyond) in the block's staged strips.
    pub input: usize,
    /// Offset of the tile's top-left output in an output plane.
    pub output: usize,
    /// Output rows and columns of the tile inside the plane: 4 but at the bottom and right
    /// edges, 0 for a lane past the block's last tile.
    pub rows: usize,
    pub cols: usize,
}
