//! The blocked loops around the micro-kernel, and the split of `C`'s columns into tasks.

use super::ahead::Ahead;
use super::tile::{Finish, Tile};
use super::{Epilogue, KC, MC, MR, MatMut, NC, NR, PackB, PackedA, b_row_stride, blocks};
use crate::simd::Isa;
use crate::workspace::Workspace;

/// Below this many FLOPs (`2·M·N·K`) a call outside a forward runs on the calling thread:
/// 15-40 µs of work (100-250 GFLOP/s on one core), several times what handing tasks to rayon
/// costs (1-20 µs from a pool's thread, 17-50 µs from outside it; `cargo bench --bench
/// pool_wake`).
pub(crate) const PARALLEL_FLOPS: usize = 1 << 22;

/// [`PARALLEL_FLOPS`] inside a forward, whose split goes to a crew that is awake
/// ([`crate::threads`](mod@crate::threads)): about 1 µs a split on 2 vCPUs of a Zen 5 EPYC
/// (`cargo bench --bench pool_wake`, `crew`). A split into two halves pays when a half's work
/// is well above that: 1 MFLOP is 4-10 µs of GEMM on one core, 2-5 µs a half.
const CREW_PARALLEL_FLOPS: usize = 1 << 20;

/// Below this many FLOPs a product, or a kernel built on it, runs on the calling thread:
/// [`CREW_PARALLEL_FLOPS`] inside a forward, else [`PARALLEL_FLOPS`].
pub(crate) fn parallel_flops() -> usize {
    if crate::threads::in_forward() {
        CREW_PARALLEL_FLOPS
    } else {
        PARALLEL_FLOPS
    }
}

/// `C = epilogue(A · B)` on the crate's threads ([`crate::threads`](mod@crate::threads)):
/// `a` is `M × K`, `b` `K × N` and `c` `M × N`. Each task takes a range of `C`'s columns.
pub(crate) fn sgemm(a: &PackedA, b: &impl PackB, c: MatMut, epilogue: &Epilogue) {
    assert_eq!(
        (a.m(), a.k(), b.n()),
        (c.rows(), b.k(), c.cols()),
        "sgemm shapes"
    );
    let isa = Isa::detect();
    let tasks = tasks_for(crate::threads::threads());
    let ranges = column_tasks(a.m(), b.n(), a.k(), tasks);
    let tasks: Vec<_> = ranges
        .iter()
        .map(|r| r.start)
        .zip(c.split_cols(&ranges))
        .collect();
    crate::threads::for_each(tasks, |(j0, c)| gemm_serial(isa, a, b, j0, c, epilogue));
}

/// Tasks to cut work into for `threads` threads: about two per thread, so that a thread
/// slowed by a neighbour's work (the cores are shared) is covered by the others.
pub(crate) fn tasks_for(threads: usize) -> usize {
    if threads <= 1 { 1 } else { 2 * threads }
}

/// Column ranges that split an `M × N × K` product into `tasks` tasks: one range when the
/// product is too small to be worth it, else at most one per [`NR`] panel, each a whole
/// number of panels (but the last) and no two more than one panel apart.
pub(crate) fn column_tasks(
    m: usize,
    n: usize,
    k: usize,
    tasks: usize,
) -> Vec<core::ops::Range<usize>> {
    let flops = 2 * m * n * k;
    let panels = n.div_ceil(NR);
    let tasks = if flops < parallel_flops() {
        1
    } else {
        tasks.min(panels)
    };
    panel_ranges(n, NR, tasks)
}

/// `0..len` cut into `parts` ranges (at least one) of whole panels of `panel` (but the last),
/// no two more than one panel apart: range `t` starts at panel `t * panels / parts`. The
/// split of every task list that must not cut a panel of the micro-kernel's tile.
pub(crate) fn panel_ranges(len: usize, panel: usize, parts: usize) -> Vec<core::ops::Range<usize>> {
    let panels = len.div_ceil(panel);
    let parts = parts.max(1);
    let start = |t: usize| (t * panels / parts * panel).min(len);
    (0..parts).map(|t| start(t)..start(t + 1)).collect()
}

/// `C = epilogue(A · B[:, j0 .. j0 + c.cols])` on the calling thread, on `isa`'s kernel: the
/// blocked loops. `c` is the `M × c.cols` slice of the whole `C` whose first column is `j0`.
pub(crate) fn gemm_serial(
    isa: Isa,
    a: &PackedA,
    b: &impl PackB,
    j0: usize,
    c: MatMut,
    epilogue: &Epilogue,
) {
    gemm_serial_rows(isa, a, 0..a.m().div_ceil(MR), b, j0, c, epilogue);
}

/// [`gemm_serial`] for the rows of `A` in its panels `panels` (rows `panels.start * MR` up
/// to `panels.end * MR` or `M`): `c` holds just those rows of `C`, and `epilogue.bias` (if
/// any) one value per row of `c`. Tasks that split `C` by rows call this, each packing `B`
/// itself.
pub(crate) fn gemm_serial_rows(
    isa: Isa,
    a: &PackedA,
    panels: core::ops::Range<usize>,
    b: &impl PackB,
    j0: usize,
    c: MatMut,
    epilogue: &Epilogue,
) {
    let row0 = panels.start * MR;
    assert!(
        panels.start <= panels.end && row0 <= a.m(),
        "the panels lie inside A"
    );
    let (m, k, n) = ((panels.end * MR).min(a.m()) - row0, a.k(), c.cols());
    assert_eq!((c.rows(), b.k()), (m, k), "gemm shapes");
    assert!(j0 + n <= b.n(), "the columns lie inside B");
    assert!(
        epilogue.bias.is_none_or(|bias| bias.len() == m),
        "one bias per row"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // No product: C is the epilogue of zeros. Only reachable through direct calls.
        let zeros = [[0.0; NR]; MR];
        for_each_tile(m, n, |i, j, rows, cols| {
            let tile = tile(&c, epilogue, i, j, rows, cols, true, true);
            // SAFETY: the tile lies inside `c`, which this call borrows uniquely.
            unsafe { super::tile::write_tile(&zeros, &tile) };
        });
        return;
    }

    // A packed block of `B`: the largest `K` block, with rows as long as the widest `N`
    // block's. About 400 KiB at most, kept by the thread's workspace between calls.
    let packed_len = k.min(KC) * b_row_stride(n.min(NC));
    // The kernel's tile takes this many columns of a packed block at a time.
    let width = super::kernel::width(isa);
    Workspace::with(packed_len, |packed| {
        for (jc, nc) in blocks(n, NC, NR) {
            for (pc, kc) in blocks(k, KC, 1) {
                let (first, last) = (pc == 0, pc + kc == k);
                let (packed, ldb) = match b.view(pc, kc, j0 + jc, nc) {
                    Some(view) => view,
                    None => {
                        let ldb = b_row_stride(nc);
                        let packed = &mut packed[..kc * ldb];
                        b.pack(pc, kc, j0 + jc, nc, packed, ldb);
                        (&*packed, ldb)
                    }
                };
                // A panel of `A` at a time across the whole block of `B`: the tiles of one
                // panel write its rows of `C` left to right, `MR` streams into `C` rather than
                // one per row of the block, which is what a `C` too large for the caches
                // (MobileNetV2's 16 -> 96 expansion at batch 8 writes 38 MB) is limited by.
                for (ic, mc) in blocks(m, MC, MR) {
                    for ir in (ic..ic + mc).step_by(MR) {
                        let a_panel = a.panel(panels.start + ir / MR, pc, kc);
                        for (jr, cols) in tiles(nc, width) {
                            let b_panel = &packed[jr..];
                            // The panel's first tile reads it from memory; the next ones find
                            // it in L1. That first tile asks for the next panel.
                            let ahead = if jr != 0 {
                                Ahead::NONE
                            } else if ir + MR < m {
                                Ahead::new(a.panel(panels.start + ir / MR + 1, pc, kc))
                            } else if !last {
                                // The next `K` block's first panel.
                                let next = kc.min(k - pc - kc);
                                Ahead::new(a.panel(panels.start, pc + kc, next))
                            } else {
                                Ahead::NONE
                            };
                            let rows = (m - ir).min(MR);
                            let tile = tile(&c, epilogue, ir, jc + jr, rows, cols, first, last);
                            // SAFETY: the tile lies inside `c` (rows and columns clipped to
                            // it), which this call borrows uniquely.
                            unsafe {
                                super::kernel::run(isa, kc, a_panel, b_panel, ldb, &tile, ahead)
                            };
                        }
                    }
                }
            }
        }
    });
}

/// The tiles across a packed block of `nc` columns for a kernel `width` columns wide, as
/// `(first column, columns)`: whole tiles left to right, then the rest, except that a rest
/// of one [`NR`] panel or less after a whole tile runs with that tile as two, half a tile
/// and half a tile plus the rest. A tile of one vector across has just `MR` accumulators,
/// fewer independent chains than the FMA units' latency needs, and pays a whole vector for
/// a few columns: it is what a 14 × 14 plane (196 = 3 · 64 + 4 columns) or an `N` block of
/// 272 columns (784 = 272 + 272 + 240) left at the end. The 196 columns now run as 64, 64,
/// 32 and 36 (two vectors and four columns). Every tile starts on a panel's first column, so
/// it reads its rows' padded values as before. The module docs give the measurements.
pub(super) fn tiles(nc: usize, width: usize) -> impl Iterator<Item = (usize, usize)> {
    let (whole, rest) = (nc / width, nc % width);
    let half = width / 2;
    let split = width > 2 * NR && half % NR == 0 && whole > 0 && (1..=NR).contains(&rest);
    let plain = if split { whole - 1 } else { whole };
    let end = if split {
        let j = plain * width;
        [(j, half), (j + half, half + rest)]
    } else {
        [(whole * width, rest), (nc, 0)]
    };
    (0..plain)
        .map(move |t| (t * width, width))
        .chain(end.into_iter().filter(|&(_, cols)| cols > 0))
}

/// Calls `f(i, j, rows, cols)` for every tile of an `m × n` matrix.
fn for_each_tile(m: usize, n: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
    for j in (0..n).step_by(NR) {
        for i in (0..m).step_by(MR) {
            f(i, j, (m - i).min(MR), (n - j).min(NR));
        }
    }
}

/// The tile of `c` at `(i, j)`: loaded unless this is the first `K` block of a product that
/// does not accumulate, finished in the last.
#[allow(clippy::too_many_arguments)]
fn tile<'a>(
    c: &MatMut,
    epilogue: &Epilogue<'a>,
    i: usize,
    j: usize,
    rows: usize,
    cols: usize,
    first: bool,
    last: bool,
) -> Tile<'a> {
    debug_assert!(i + rows <= c.rows() && j + cols <= c.cols());
    Tile {
        // SAFETY: `(i, j)` is inside `c`.
        c: unsafe { c.at(i, j) },
        row_stride: c.row_stride,
        col_stride: c.col_stride,
        rows,
        cols,
        load: !first || epilogue.accumulate,
        finish: last.then(|| Finish {
            bias: epilogue.bias.map(|b| &b[i..i + rows]),
            activation: epilogue.activation,
        }),
    }
}
