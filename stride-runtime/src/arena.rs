//! The buffers a forward's values live in, kept between forwards: each network holds an
//! [`Arena`], and while a forward runs, every output and copy its ops allocate (through
//! [`memory::uninit`](crate::memory::uninit) and [`memory::zeros`](crate::memory::zeros)) takes
//! a buffer the walk has given back, instead of asking the system for a new one.
//!
//! Without it, each layer's output was a fresh allocation, and glibc serves one above its
//! mmap threshold (at most 32 MiB; MobileNetV2's 16→96 expansion at 112x112 and batch 8 is
//! 38 MiB) with fresh pages from the kernel, so each forward page-faulted its largest
//! activations in again. With it, a forward at an input shape the network has run at before
//! allocates only its output: the walk ([`graph`](crate::graph)'s executor) gives each value
//! back when no node needs it any more, and the next op's output takes the smallest buffer that
//! holds it.
//!
//! The buffers are whole allocations, reused as they are, not offsets into one block: an op
//! returns an owned array, which must own its buffer. How much memory a forward needs at best
//! is what the network's [`MemoryPlan`](crate::graph::MemoryPlan) computes from the shapes.
//!
//! # Sharing
//!
//! A forward takes the network's buffers out of its arena (a `Mutex` held only to take and to
//! give back), installs them on the thread that walks the graph, and puts them back when it
//! ends; a forward that starts while another holds them starts with none, so concurrent
//! forwards never share a buffer. A network run as a layer of another uses the outer forward's
//! buffers. An op that allocates on another thread (inside a kernel's split) allocates as
//! before. Buffers the forward did not use are dropped as it ends, so what an arena keeps is
//! what its last forward used.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use ndarray::{Array, Dimension};

/// The buffers a network keeps between forwards.
#[derive(Default)]
pub(crate) struct Arena {
    buffers: Mutex<Vec<Vec<f32>>>,
}

impl std::fmt::Debug for Arena {
    /// Its size, not its values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Clone for Arena {
    /// A new, empty arena: a clone of a network allocates its own buffers.
    fn clone(&self) -> Self {
        Arena::default()
    }
}

impl Arena {
    /// The bytes of the buffers the arena holds now, between forwards: what the last forward
    /// used, its output excepted.
    pub(crate) fn bytes(&self) -> usize {
        let buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        buffers
            .iter()
            .map(|b| b.capacity() * size_of::<f32>())
            .sum()
    }

    /// Runs `f`, a forward, with the arena's buffers installed on this thread (or the ones
    /// already installed, for a network run inside another's forward).
    pub(crate) fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if FREE.with(|free| free.borrow().is_some()) {
            return f();
        }
        let buffers = std::mem::take(&mut *self.buffers.lock().unwrap_or_else(|e| e.into_inner()));
        let free = buffers.into_iter().map(|b| (b, false)).collect();
        FREE.with(|f| *f.borrow_mut() = Some(free));
        let _put_back = PutBack(self);
        f()
    }
}

/// Takes the thread's buffers back into the arena when the forward ends, or unwinds.
struct PutBack<'a>(&'a Arena);

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        let free = FREE.with(|f| f.borrow_mut().take()).unwrap_or_default();
        let used: Vec<Vec<f32>> = free.into_iter().filter(|b| b.1).map(|b| b.0).collect();
        let mut buffers = self.0.buffers.lock().unwrap_or_else(|e| e.into_inner());
        // A forward that ran beside this one may have put its buffers back first: keep
        // whichever set is larger.
        let bytes = |set: &[Vec<f32>]| set.iter().map(Vec::capacity).sum::<usize>();
        if bytes(&used) >= bytes(&buffers) {
            *buffers = used;
        }
    }
}

/// The buffers a forward has not lent out, each with whether the forward used it (took it, or
/// gave it back).
type Free = Vec<(Vec<f32>, bool)>;

thread_local! {
    /// The buffers of the forward this thread walks; `None` outside a forward.
    static FREE: RefCell<Option<Free>> = const { RefCell::new(None) };
}

/// The fewest values a buffer the arena lends or keeps holds (64 KiB): smaller ones come and go
/// from the allocator's own free lists, which serve them without asking the system.
const SMALLEST: usize = 16 * 1024;

/// A buffer of `len` values from the forward's arena (the smallest that holds them), as
/// uninitialised values; `None` outside a forward, for fewer than [`SMALLEST`] values, or when
/// no buffer holds them: then the largest is dropped, and the caller's new, larger buffer takes
/// its place when it is given back.
pub(crate) fn take(len: usize) -> Option<Vec<MaybeUninit<f32>>> {
    let mut buffer = std::mem::ManuallyDrop::new(take_buffer(len)?);
    let capacity = buffer.capacity();
    // SAFETY: `MaybeUninit<f32>` has `f32`'s size and alignment, so the allocation is one of
    // `capacity` `MaybeUninit<f32>`s; any `len <= capacity` of them are initialised, as
    // `MaybeUninit` needs nothing.
    Some(unsafe { Vec::from_raw_parts(buffer.as_mut_ptr().cast(), len, capacity) })
}

/// [`take`], its values set to zero.
pub(crate) fn take_zeroed(len: usize) -> Option<Vec<f32>> {
    let mut buffer = take_buffer(len)?;
    buffer.clear();
    buffer.resize(len, 0.0);
    Some(buffer)
}

/// [`take`], its values what the buffer's last user left (zero past what it held): for a
/// kernel that writes every value before any is read, which a zeroing pass would only delay.
pub(crate) fn take_as_left(len: usize) -> Option<Vec<f32>> {
    let mut buffer = take_buffer(len)?;
    buffer.resize(len, 0.0);
    Some(buffer)
}

/// The smallest buffer of the forward's arena that holds `len` values, as its last user left
/// it; see [`take`].
fn take_buffer(len: usize) -> Option<Vec<f32>> {
    if len < SMALLEST {
        return None;
    }
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        let free = free.as_mut()?;
        let fits = free
            .iter()
            .enumerate()
            .filter(|(_, (b, _))| b.capacity() >= len)
            .min_by_key(|(_, (b, _))| b.capacity());
        match fits {
            Some((at, _)) => Some(free.swap_remove(at).0),
            None => {
                // The largest gives way to the new one: no more buffers than values live at once.
                let largest = (0..free.len()).max_by_key(|&i| free[i].0.capacity())?;
                free.swap_remove(largest);
                None
            }
        }
    })
}

/// Gives `a`'s buffer back to the forward's arena, for a later op's output; outside a forward,
/// or when it holds fewer than [`SMALLEST`] values, it is dropped.
pub(crate) fn give<D: Dimension>(a: Array<f32, D>) {
    let (buffer, _) = a.into_raw_vec_and_offset();
    if buffer.capacity() < SMALLEST {
        return;
    }
    FREE.with(|free| {
        if let Some(free) = free.borrow_mut().as_mut() {
            free.push((buffer, true));
        }
    });
}

#[cfg(test)]
mod tests {
    use ndarray::Array1;

    use super::*;

    const S: usize = SMALLEST;

    fn installed() -> bool {
        FREE.with(|free| free.borrow().is_some())
    }

    #[test]
    fn a_buffer_given_back_is_taken_again_and_kept_between_forwards() {
        let arena = Arena::default();
        let first = arena.scope(|| {
            assert!(installed());
            assert!(take(S).is_none(), "a new arena has nothing to lend");
            let a = Array1::<f32>::ones(2 * S);
            let ptr = a.as_ptr();
            give(a);
            let b = take_zeroed(S + 1).expect("the buffer given back");
            assert_eq!((b.len(), b.as_ptr()), (S + 1, ptr));
            assert!(b.iter().all(|&v| v == 0.0));
            give(Array1::from_vec(b));
            ptr
        });
        assert!(!installed());
        assert_eq!(arena.bytes(), 2 * S * 4);
        let second = arena.scope(|| take(2 * S).map(|b| b.as_ptr().cast::<f32>()));
        assert_eq!(second, Some(first));
        // The second forward took the buffer and did not give it back: the arena is empty.
        assert_eq!(arena.bytes(), 0);
    }

    #[test]
    fn the_smallest_that_holds_is_lent_and_what_goes_unused_is_dropped() {
        let arena = Arena::default();
        arena.scope(|| {
            give(Array1::<f32>::zeros(10 * S));
            give(Array1::<f32>::zeros(S));
            give(Array1::<f32>::zeros(S - 1));
            assert!(take(S - 1).is_none(), "below the smallest kept");
        });
        assert_eq!(arena.bytes(), 11 * S * 4, "a small buffer is not kept");
        arena.scope(|| {
            let small = take_zeroed(S).expect("the small buffer");
            assert_eq!(small.capacity(), S);
            give(Array1::from_vec(small));
        });
        assert_eq!(arena.bytes(), S * 4, "the large buffer went unused");
    }

    #[test]
    fn when_none_holds_a_request_the_largest_gives_way() {
        let arena = Arena::default();
        arena.scope(|| {
            give(Array1::<f32>::zeros(S));
            give(Array1::<f32>::zeros(2 * S));
            assert!(take(3 * S).is_none());
            // The buffer of 2S would hold S + 1 values: it gave way to the caller's new one.
            assert!(take(S + 1).is_none());
        });
    }

    #[test]
    fn a_buffer_taken_as_left_keeps_its_values_and_is_zero_past_them() {
        Arena::default().scope(|| {
            let mut held = Vec::with_capacity(2 * S);
            held.resize(S, 3.0f32);
            give(Array1::from_vec(held));
            let b = take_as_left(S / 2 * 3).expect("the buffer given back");
            assert_eq!(b.len(), S / 2 * 3);
            assert!(b[..S].iter().all(|&v| v == 3.0) && b[S..].iter().all(|&v| v == 0.0));
        });
    }

    #[test]
    fn a_nested_scope_uses_the_outer_buffers() {
        let (outer, inner) = (Arena::default(), Arena::default());
        outer.scope(|| {
            give(Array1::<f32>::zeros(S));
            inner.scope(|| assert!(take(S).is_some()));
        });
        assert_eq!((outer.bytes(), inner.bytes()), (0, 0));
    }
}
