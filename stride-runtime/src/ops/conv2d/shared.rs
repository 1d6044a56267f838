//! An output that a split's tasks share, each writing only its own part of it: Winograd's
//! tiles, the pointwise kernel's column ranges, the inverted fusion's bands of rows.

/// The output tensor's first element, handed to every task of one call.
#[derive(Clone, Copy)]
pub(super) struct SharedOutput(*mut f32);

impl SharedOutput {
    /// The output `y`, for tasks that each write their own part of it while `y`'s borrow
    /// lasts.
    pub(super) fn new(y: &mut [f32]) -> SharedOutput {
        SharedOutput(y.as_mut_ptr())
    }

    /// The output `y`, not written yet, for tasks that write all of it between them.
    pub(super) fn uninit(y: &mut [core::mem::MaybeUninit<f32>]) -> SharedOutput {
        SharedOutput(y.as_mut_ptr().cast())
    }

    /// The output's value `offset`.
    ///
    /// # Safety
    ///
    /// `offset` is inside the output.
    pub(super) unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: the caller's promise.
        unsafe { self.0.add(offset) }
    }

    /// The output's value `offset`, or a pointer past it that must not be read: for
    /// prefetches, which may ask for lines past the end.
    pub(super) fn wrapping_at(self, offset: usize) -> *const f32 {
        self.0.wrapping_add(offset)
    }
}

// SAFETY: the tasks write disjoint parts of the output (each user says how: winograd's
// `conv2d`, pointwise's `conv2d_split`, inverted's `banded`), as if each held a `&mut` to its
// own, and the borrow of the output it comes from outlives them.
unsafe impl Send for SharedOutput {}
// SAFETY: as above.
unsafe impl Sync for SharedOutput {}
