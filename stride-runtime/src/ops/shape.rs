//! Ops that reshape or combine tensors: flatten, the residual add, and the rank check for
//! tensors whose rank is only known at run time.

use ndarray::{
    Array, Array2, Array4, ArrayView, ArrayView4, ArrayViewD, ArrayViewMut, Axis, Dimension, Ix4,
    Zip, s,
};

use crate::{Error, Result, memory};

/// Flattens every dimension after the batch: `[N, C, H, W]` to `[N, C*H*W]`, in C order, as
/// PyTorch's `flatten(1)`.
///
/// Refuses only an input whose copy cannot be allocated ([`Error::TooLarge`]): a broadcast
/// view far larger than memory.
///
/// ```
/// use ndarray::Array4;
/// let x = Array4::<f32>::zeros((2, 512, 1, 1));
/// assert_eq!(stride_runtime::ops::flatten(x.view())?.dim(), (2, 512));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn flatten(x: ArrayView4<f32>) -> Result<Array2<f32>> {
    let (n, c, h, w) = x.dim();
    let features = [c, h, w].iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    // A view's non-zero dimensions multiply within isize::MAX, but with N = 0 the others
    // need not.
    let Some(features) = features else {
        return Err(Error::TooLarge {
            op: "flatten",
            tensor: "output",
            shape: vec![n, c, h, w],
            bytes: None,
            refused: false,
        });
    };
    memory::check::<f32>("flatten", "output", &[n, features])?;
    let data = memory::to_owned("flatten", "output", x)?
        .into_raw_vec_and_offset()
        .0;
    Ok(Array2::from_shape_vec((n, features), data)
        .expect("a standard-layout array of n*c*h*w elements"))
}

/// The elementwise sum of two arrays of the same shape (a residual connection).
///
/// Refuses arrays whose shapes differ (there is no broadcasting), and an output too large to
/// allocate.
///
/// ```
/// use ndarray::array;
/// let y = stride_runtime::ops::add(array![1.0f32, 2.0].view(), array![3.0f32, 4.0].view())?;
/// assert_eq!(y, array![4.0, 6.0]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn add<D: Dimension>(a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> Result<Array<f32, D>> {
    if a.shape() != b.shape() {
        return Err(Error::Shape {
            op: "add",
            tensor: "right operand",
            expected: format!("the left operand's shape {:?}", a.shape()),
            got: b.shape().to_vec(),
        });
    }
    let mut y = memory::to_owned("add", "output", a)?;
    Zip::from(&mut y).and(&b).for_each(|y, &b| *y += b);
    Ok(y)
}

/// Adds `b` into `a` in place (a residual connection without a new array).
///
/// Refuses arrays whose shapes differ; there is no broadcasting.
///
/// ```
/// use ndarray::array;
/// let mut a = array![1.0f32, 2.0];
/// stride_runtime::ops::add_assign(a.view_mut(), array![3.0f32, 4.0].view())?;
/// assert_eq!(a, array![4.0, 6.0]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn add_assign<D: Dimension>(mut a: ArrayViewMut<f32, D>, b: ArrayView<f32, D>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::Shape {
            op: "add",
            tensor: "right operand",
            expected: format!("the left operand's shape {:?}", a.shape()),
            got: b.shape().to_vec(),
        });
    }
    Zip::from(&mut a).and(&b).for_each(|x, &y| *x += y);
    Ok(())
}

/// Joins NCHW arrays along the channels, as `torch.cat(parts, dim=1)`: the outputs of a
/// network's parallel branches.
///
/// Refuses an empty list, parts whose batch, height or width differ, and an output too large
/// to allocate.
///
/// ```
/// use ndarray::Array4;
/// let (a, b) = (Array4::<f32>::zeros((2, 3, 8, 8)), Array4::<f32>::ones((2, 5, 8, 8)));
/// let y = stride_runtime::ops::concat_channels(&[a.view(), b.view()])?;
/// assert_eq!(y.dim(), (2, 8, 8, 8));
/// assert!(y.is_standard_layout());
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn concat_channels(parts: &[ArrayView4<f32>]) -> Result<Array4<f32>> {
    let Some(first) = parts.first() else {
        return Err(Error::Param {
            op: "concat",
            message: "no arrays to join".into(),
        });
    };
    let (n, _, h, w) = first.dim();
    let mut channels = 0usize;
    for part in parts {
        let (pn, c, ph, pw) = part.dim();
        if (pn, ph, pw) != (n, h, w) {
            return Err(Error::Shape {
                op: "concat",
                tensor: "input",
                expected: format!("[{n}, C, {h}, {w}]"),
                got: part.shape().to_vec(),
            });
        }
        channels = channels.saturating_add(c);
    }
    // In standard layout, whatever the parts' layouts (ndarray's `concatenate` keeps the
    // joined axis outermost, which every op after it would have to copy back).
    // Every value is copied from a part, so a reused buffer needs no zeroing pass first.
    let mut out = memory::overwritten("concat", "output", ndarray::Ix4(n, channels, h, w))?;
    for (sample, mut dst) in out.outer_iter_mut().enumerate() {
        let mut first = 0;
        for part in parts {
            let c = part.shape()[1];
            dst.slice_mut(s![first..first + c, .., ..])
                .assign(&part.index_axis(Axis(0), sample));
            first += c;
        }
    }
    Ok(out)
}

/// Refuses an NCHW input whose `[C, H, W]` is not `chw`; any batch size passes. `op` names the
/// caller (a network's name) in the error.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::ops::check_nchw;
///
/// let x = Array4::<f32>::zeros((8, 3, 224, 224));
/// assert!(check_nchw("Stem", &x.view(), [3, 224, 224]).is_ok());
/// let err = check_nchw("Stem", &x.view(), [3, 256, 256]).unwrap_err();
/// assert_eq!(err.to_string(), "Stem: input has shape [8, 3, 224, 224], expected [N, 3, 256, 256]");
/// ```
pub fn check_nchw(op: &'static str, x: &ArrayView4<'_, f32>, chw: [usize; 3]) -> Result<()> {
    if x.shape()[1..] == chw {
        Ok(())
    } else {
        let [c, h, w] = chw;
        Err(Error::Shape {
            op,
            tensor: "input",
            expected: format!("[N, {c}, {h}, {w}]"),
            got: x.shape().to_vec(),
        })
    }
}

/// Views a tensor of run-time rank as NCHW, or says what rank it has.
///
/// ```
/// use ndarray::ArrayD;
/// let x = ArrayD::<f32>::zeros(vec![3, 224, 224]);
/// let err = stride_runtime::ops::as_nchw(x.view()).unwrap_err();
/// assert_eq!(err.to_string(), "input: input has shape [3, 224, 224], expected [N, C, H, W]");
/// ```
pub fn as_nchw(x: ArrayViewD<'_, f32>) -> Result<ArrayView4<'_, f32>> {
    let shape = x.shape().to_vec();
    x.into_dimensionality::<Ix4>().map_err(|_| Error::Shape {
        op: "input",
        tensor: "input",
        expected: "[N, C, H, W]".into(),
        got: shape,
    })
}

#[cfg(test)]
mod tests {
    use ndarray::{Array4, ArrayD};

    use super::*;

    #[test]
    fn add_refuses_operands_of_different_shapes() {
        let (a, b) = (
            Array4::<f32>::zeros((1, 8, 4, 4)),
            Array4::<f32>::zeros((1, 8, 2, 2)),
        );
        let err = add(a.view(), b.view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: right operand has shape [1, 8, 2, 2], expected the left operand's shape [1, 8, 4, 4]"
        );
    }

    #[test]
    fn as_nchw_refuses_a_rank_five_tensor() {
        let x = ArrayD::<f32>::zeros(vec![1, 1, 1, 1, 1]);
        assert!(as_nchw(x.view()).is_err());
    }

    #[test]
    fn flatten_keeps_c_order_for_a_non_standard_layout() {
        let x = Array4::from_shape_fn((1, 2, 1, 3), |(_, c, _, w)| (c * 3 + w) as f32);
        let transposed = x.view().permuted_axes([0, 1, 3, 2]);
        assert_eq!(
            flatten(transposed).unwrap().into_raw_vec_and_offset().0,
            vec![0., 1., 2., 3., 4., 5.]
        );
    }
}
