//! Allocation without aborting: every tensor an op makes whose size the caller's input or
//! parameters decide (an output, a copy of an input into standard layout, a table with one
//! entry per output row or column) is allocated here, and a size that cannot be allocated is
//! an [`Error::TooLarge`] instead of a panic (`capacity overflow`) or an abort (`memory
//! allocation of … bytes failed`).
//!
//! The bound, in one place: one allocation holds at most `isize::MAX` bytes, which is Rust's
//! own limit (`Layout`, `Vec`) and, for `f32`, also keeps every dimension product that
//! `ndarray` checks within `isize::MAX`. Below that bound, the request goes to the system
//! allocator, and a refusal is an error. On a system that overcommits memory (Linux with
//! `vm.overcommit_memory = 1`), the allocator may grant a request that the machine cannot back
//! and the process is killed later when it writes the pages; no library can detect that, and
//! PyTorch's allocator behaves the same way. Linux's default heuristic refuses a single
//! request larger than the machine's memory and swap, which is what the tests rely on.
//!
//! Kernels' working memory (`workspace.rs`) is sized by blocking constants, not by the input,
//! and is not allocated through here.

use std::alloc::{Layout, alloc_zeroed};
use std::mem::MaybeUninit;

use ndarray::{Array, ArrayView, CowArray, Dimension};

use crate::{Error, Result};

/// The most bytes one allocation may hold.
pub(crate) const MAX_BYTES: usize = isize::MAX as usize;

/// The number of elements of `shape`, or a refusal naming `op` and `tensor` when an array of
/// `T`s of that shape cannot exist: its bytes pass [`MAX_BYTES`], or its non-zero dimensions
/// multiply past `isize::MAX` (which `ndarray` refuses to shape, even for an empty array).
pub(crate) fn check<T>(op: &'static str, tensor: &'static str, shape: &[usize]) -> Result<usize> {
    let refuse = |bytes| {
        Err(Error::TooLarge {
            op,
            tensor,
            shape: shape.to_vec(),
            bytes,
            refused: false,
        })
    };
    let positions = product(shape.iter().copied().filter(|&d| d != 0));
    if positions.is_none_or(|p| p > isize::MAX as usize) {
        return refuse(None);
    }
    let Some(len) = product(shape.iter().copied()) else {
        return refuse(None);
    };
    let bytes = len as u128 * size_of::<T>() as u128;
    if bytes > MAX_BYTES as u128 {
        return refuse(Some(bytes));
    }
    Ok(len)
}

/// The product of `dims`, or `None` when it overflows.
fn product(dims: impl Iterator<Item = usize>) -> Option<usize> {
    dims.into_iter()
        .try_fold(1usize, |count, d| count.checked_mul(d))
}

/// The refusal of `len` values of `T` that passed [`check`] but that the allocator refused.
fn refused<T>(op: &'static str, tensor: &'static str, shape: &[usize], len: usize) -> Error {
    Error::TooLarge {
        op,
        tensor,
        shape: shape.to_vec(),
        bytes: Some(len as u128 * size_of::<T>() as u128),
        refused: true,
    }
}

/// An empty `Vec` with room for exactly `len` values of `T`, or a refusal naming `op` and
/// `what` (with `[len]` as its shape).
pub(crate) fn vec<T>(op: &'static str, what: &'static str, len: usize) -> Result<Vec<T>> {
    check::<T>(op, what, &[len])?;
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| refused::<T>(op, what, &[len], len))?;
    Ok(v)
}

/// The items of `items` in a `Vec` allocated by [`vec`]: a table with one entry per output
/// row, say, whose length the caller's parameters decide.
pub(crate) fn collect<T>(
    op: &'static str,
    what: &'static str,
    items: impl ExactSizeIterator<Item = T>,
) -> Result<Vec<T>> {
    let mut v = vec(op, what, items.len())?;
    v.extend(items);
    Ok(v)
}

/// An array of zeros of shape `dim`, in standard layout: a buffer of the forward's
/// [`arena`](crate::arena) set to zero, or one zeroed by the allocator (calloc), whose fresh
/// pages cost nothing until they are written, as `Array::zeros`.
pub(crate) fn zeros<D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    dim: D,
) -> Result<Array<f32, D>> {
    let len = check::<f32>(op, tensor, dim.slice())?;
    let values = if let Some(reused) = crate::arena::take_zeroed(len) {
        reused
    } else if len == 0 {
        Vec::new()
    } else {
        let layout = Layout::array::<f32>(len).expect("`check` bounds the size by isize::MAX");
        // SAFETY: the layout has a non-zero size (`len > 0` values of a 4-byte type).
        let ptr = unsafe { alloc_zeroed(layout) }.cast::<f32>();
        if ptr.is_null() {
            return Err(refused::<f32>(op, tensor, dim.slice(), len));
        }
        // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` `f32`s
        // (the alignment and size `Vec<f32>` with capacity `len` uses), and its `len` values
        // are initialised: all-zero bits are `0.0`.
        unsafe { Vec::from_raw_parts(ptr, len, len) }
    };
    Ok(Array::from_shape_vec(dim, values).expect("`check` accepted the shape"))
}

/// An array of shape `dim`, in standard layout, for a kernel that writes every element before
/// it reads any: a buffer of the forward's [`arena`](crate::arena) with whatever values its
/// last user left, or zeros (calloc, whose fresh pages cost nothing until written).
pub(crate) fn overwritten<D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    dim: D,
) -> Result<Array<f32, D>> {
    let len = check::<f32>(op, tensor, dim.slice())?;
    match crate::arena::take_as_left(len) {
        Some(reused) => Ok(Array::from_shape_vec(dim, reused).expect("`check` accepted the shape")),
        None => zeros(op, tensor, dim),
    }
}

/// An uninitialised array of shape `dim`, in standard layout, for a kernel that writes every
/// element (then `assume_init`): a buffer of the forward's [`arena`](crate::arena) when it has
/// one that holds it, else a new one.
pub(crate) fn uninit<D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    dim: D,
) -> Result<Array<MaybeUninit<f32>, D>> {
    let len = check::<f32>(op, tensor, dim.slice())?;
    if let Some(reused) = crate::arena::take(len) {
        return Ok(Array::from_shape_vec(dim, reused).expect("`check` accepted the shape"));
    }
    let mut values = Vec::new();
    values
        .try_reserve_exact(len)
        .map_err(|_| refused::<f32>(op, tensor, dim.slice(), len))?;
    // SAFETY: the capacity is `len`, and an uninitialised `MaybeUninit` is a valid one
    // (`resize` with `MaybeUninit::uninit()` compiled to a memset of the whole buffer).
    unsafe { values.set_len(len) };
    Ok(Array::from_shape_vec(dim, values).expect("`check` accepted the shape"))
}

/// A copy of `x` in standard layout, owned.
pub(crate) fn to_owned<D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    x: ArrayView<f32, D>,
) -> Result<Array<f32, D>> {
    let mut y = uninit(op, tensor, x.raw_dim())?;
    x.assign_to(&mut y);
    // SAFETY: `assign_to` wrote every element of `y`, which has `x`'s shape.
    Ok(unsafe { y.assume_init() })
}

/// `x` in standard layout: borrowed when it already is, else copied by [`to_owned`]. The copy
/// of a broadcast view (zero strides over one value) can be far larger than memory.
pub(crate) fn standard_layout<'a, D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    x: ArrayView<'a, f32, D>,
) -> Result<CowArray<'a, f32, D>> {
    if x.is_standard_layout() {
        Ok(x.into())
    } else {
        Ok(to_owned(op, tensor, x)?.into())
    }
}

/// `x`, owned: moved when it is, copied by [`to_owned`] when it is borrowed.
pub(crate) fn into_owned<D: Dimension>(
    op: &'static str,
    tensor: &'static str,
    x: CowArray<'_, f32, D>,
) -> Result<Array<f32, D>> {
    if x.is_view() {
        to_owned(op, tensor, x.view())
    } else {
        Ok(x.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayView2, Ix2, ShapeBuilder};

    use super::*;

    #[test]
    fn check_counts_elements_and_refuses_bytes_past_isize_max() {
        assert_eq!(check::<f32>("op", "output", &[2, 3, 4]), Ok(24));
        assert_eq!(check::<f32>("op", "output", &[0, usize::MAX / 2]), Ok(0));
        let err = check::<f32>("op", "output", &[1 << 62]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "op: output of shape [4611686018427387904] is too large: 18446744073709551616 bytes, \
             above isize::MAX (9223372036854775807), the most one allocation can hold"
        );
        // Overflows usize, and an empty shape whose other axes ndarray cannot index.
        for shape in [[usize::MAX, 2], [0, usize::MAX]] {
            let err = check::<f32>("op", "output", &shape).unwrap_err();
            assert!(matches!(err, Error::TooLarge { bytes: None, .. }), "{err}");
        }
    }

    #[test]
    fn an_allocation_the_system_refuses_is_an_error() {
        // 2^60 bytes passes the isize::MAX bound but no machine has it.
        let shape = Ix2(1 << 29, 1 << 29);
        let err = zeros("op", "output", shape).unwrap_err();
        assert_eq!(
            err.to_string(),
            "op: output of shape [536870912, 536870912] needs 1152921504606846976 bytes, which \
             the system refused to allocate"
        );
        assert!(matches!(
            uninit("op", "output", shape),
            Err(Error::TooLarge { refused: true, .. })
        ));
        assert!(vec::<u64>("op", "table", 1 << 58).is_err());
    }

    #[test]
    fn zeros_uninit_and_copies_give_standard_layout_arrays() {
        let z = zeros("op", "output", Ix2(3, 5)).unwrap();
        assert!(z.is_standard_layout() && z.iter().all(|&v| v == 0.0));
        assert_eq!(zeros("op", "output", Ix2(0, 5)).unwrap().shape(), &[0, 5]);
        let data: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let x = ArrayView2::from_shape((2, 3).f(), &data).unwrap();
        let copy = standard_layout("op", "input", x).unwrap();
        assert!(copy.is_standard_layout() && copy.is_owned());
        assert_eq!(copy, x);
        let same = standard_layout("op", "input", x.t()).unwrap();
        assert!(same.is_view());
        assert_eq!(into_owned("op", "input", same).unwrap(), x.t());
    }

    #[test]
    fn a_copy_of_a_broadcast_view_larger_than_memory_is_refused() {
        let one = [1.0f32];
        let x = ArrayView2::from_shape((1 << 31, 1 << 31).strides((0, 0)), &one).unwrap();
        assert!(matches!(
            to_owned("relu", "output", x),
            Err(Error::TooLarge { op: "relu", .. })
        ));
    }
}
