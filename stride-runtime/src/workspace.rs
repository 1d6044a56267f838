//! The kernels' working memory: one workspace per thread, which every kernel borrows from
//! instead of keeping a buffer of its own.
//!
//! A kernel states how many floats it needs and gets exactly that many, 64-byte aligned, for
//! the length of a closure: [`Workspace::with`]. The values are whatever the last user left,
//! so a kernel writes what it reads. The users, and what they ask for:
//!
//! | user | floats |
//! |---|---|
//! | `gemm::gemm_serial_rows`: a packed block of `B` | `min(K, KC)` rows of `b_row_stride(min(N, NC))`, about 400 KiB at most |
//! | im2col's split by rows: the whole packed `B`, shared by the tasks | `K` rows of `b_row_stride(N)` |
//! | Winograd: a block's `V`, `M` and staged input strips | a few hundred KiB for the usual layers |
//! | sub-pixel: the width phases of a few output rows | `Cout/g` × rows × `OW`, about 128 KiB |
//!
//! # Borrowing
//!
//! The workspace is a stack of buffers. A borrow takes the top one out of the stack, grows it
//! if it is too short, lends it to the closure and puts it back on top when the closure
//! returns. While it is out, a borrow nested in the closure on the same thread takes the next
//! one down, or a new one if there is none: Winograd's GEMMs inside its block, or a rayon task
//! that the thread steals while it waits inside [`crate::threads::for_each`] (im2col's split
//! by rows waits there holding its `B`). So no two live borrows share memory, and since the
//! stack's `RefCell` is borrowed only to take a buffer out and to put it back, never while a
//! closure runs, a nested borrow cannot find it borrowed.
//!
//! Borrows end in the reverse order they start, so each nesting depth gets the same buffer
//! call after call: it grows to the largest request made at its depth and then stays, and a
//! network's forward pass stops allocating here after its first layers. A buffer whose closure
//! panics is dropped; the next borrow at its depth makes a new one.

use std::cell::RefCell;

/// Values to skip at most to reach a 64-byte boundary (a cache line, an AVX2 pair of loads).
const ALIGN: usize = 64 / size_of::<f32>();

/// One thread's working memory: the buffers not lent out, the next to lend last.
#[derive(Debug)]
pub(crate) struct Workspace {
    free: RefCell<Vec<Vec<f32>>>,
}

thread_local! {
    /// This thread's workspace, kept between calls.
    static WORKSPACE: Workspace = const {
        Workspace {
            free: RefCell::new(Vec::new()),
        }
    };
}

impl Workspace {
    /// Runs `f` on `floats` values of this thread's workspace, starting at a 64-byte boundary,
    /// and returns what it returns. A borrow inside `f` (on this thread) gets other memory;
    /// see [the module docs](self).
    #[inline]
    pub(crate) fn with<R>(floats: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        let mut buffer = WORKSPACE
            .with(|w| w.free.borrow_mut().pop())
            .unwrap_or_default();
        if buffer.len() < floats + ALIGN {
            buffer.resize(floats + ALIGN, 0.0);
        }
        let skip = buffer.as_ptr().align_offset(64).min(ALIGN);
        let result = f(&mut buffer[skip..skip + floats]);
        WORKSPACE.with(|w| w.free.borrow_mut().push(buffer));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nested_borrow_gets_other_memory_and_each_depth_keeps_its_buffer() {
        let outer_first = Workspace::with(1000, |outer| {
            outer.fill(1.0);
            let inner = Workspace::with(10, |inner| {
                inner.fill(2.0);
                inner.as_ptr()
            });
            assert!(
                outer.iter().all(|&v| v == 1.0),
                "the nested borrow wrote elsewhere"
            );
            assert!(!outer.as_ptr_range().contains(&inner));
            outer.as_ptr()
        });
        // The same depths again: the same buffers, with room enough, so no allocation.
        let outer_again = Workspace::with(1000, |outer| {
            Workspace::with(10, |_| ());
            outer.as_ptr()
        });
        assert_eq!(outer_first, outer_again);
        assert_eq!(outer_first.align_offset(64), 0);
    }

    #[test]
    fn a_borrow_nested_in_a_stolen_task_never_finds_the_workspace_borrowed() {
        // Each task borrows while it runs `for_each` again: whatever rayon runs on a waiting
        // thread, every live borrow has its own memory.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            crate::threads::for_each((0..8).collect(), |t: usize| {
                Workspace::with(256, |outer| {
                    outer.fill(t as f32);
                    crate::threads::for_each((0..4).collect(), |u: usize| {
                        Workspace::with(64, |inner| inner.fill(u as f32));
                    });
                    assert!(outer.iter().all(|&v| v == t as f32));
                });
            });
        });
    }
}
