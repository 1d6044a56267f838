//! Fully connected layers: `yᵀ = w · xᵀ + b`. A batch of a few rows reads the row-major
//! weight once, a dot product per output ([`gemv`](crate::gemm::gemv)); a larger one runs on the crate's GEMM,
//! whose prepacked `A` (packed once by [`Linear::new`]) is the weight and whose bias is per row
//! of `yᵀ`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::check::exact_shape;
use crate::gemm::{self, Epilogue, MatMut, PackedA, StridedB, gemv};
use crate::simd::{Activation, Isa};
use crate::{Error, Result, memory};

const OP: &str = "linear";

/// `y = x · wᵀ + b` for `x` of shape `[N, in]`, `weight` of shape `[out, in]` (PyTorch's
/// layout) and an optional `bias` of shape `[out]`.
///
/// Refuses an empty weight, a bias of another length, an input without `in` columns, and an
/// output too large to allocate.
///
/// ```
/// use ndarray::array;
/// use stride_runtime::ops::linear;
///
/// let x = array![[1.0f32, 2.0]];
/// let w = array![[1.0f32, 1.0], [0.0, -1.0], [2.0, 0.0]];
/// let y = linear(x.view(), w.view(), Some(array![0.0f32, 0.0, 1.0].view()))?;
/// assert_eq!(y, array![[3.0, -2.0, 3.0]]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn linear(
    x: ArrayView2<f32>,
    weight: ArrayView2<f32>,
    bias: Option<ArrayView1<f32>>,
) -> Result<Array2<f32>> {
    check_weights(weight, bias)?;
    check_input(x, weight.ncols(), weight.nrows())?;
    let weight = weight.as_standard_layout();
    if x.nrows() <= gemv::MAX_BATCH {
        return few_rows(x, weight.view(), bias);
    }
    apply(x, &pack(weight.view()), bias)
}

/// A linear layer that owns its weights, packed for the matrix multiply once.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    weight: Array2<f32>,
    bias: Option<Array1<f32>>,
    /// `weight` as the GEMM's `A`.
    packed: PackedA,
}

impl Linear {
    /// A layer with `weight` of shape `[out, in]` and an optional `bias` of shape `[out]`.
    pub fn new(weight: Array2<f32>, bias: Option<Array1<f32>>) -> Result<Self> {
        check_weights(weight.view(), bias.as_ref().map(|b| b.view()))?;
        let packed = pack(weight.view());
        Ok(Linear {
            weight,
            bias,
            packed,
        })
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.weight.ncols()
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.weight.nrows()
    }

    /// The weight, `[out, in]`.
    pub fn weight(&self) -> ArrayView2<'_, f32> {
        self.weight.view()
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }

    /// `x · wᵀ + b` for `x` of shape `[N, in]`. Refuses an input without `in` columns, and an
    /// output too large to allocate.
    pub fn forward(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.in_features(), self.out_features())?;
        if x.nrows() <= gemv::MAX_BATCH {
            return few_rows(x, self.weight.view(), self.bias());
        }
        apply(x, &self.packed, self.bias())
    }
}

fn check_weights(weight: ArrayView2<f32>, bias: Option<ArrayView1<f32>>) -> Result<()> {
    if weight.is_empty() {
        return Err(Error::Shape {
            op: OP,
            tensor: "weight",
            expected: "[out, in] with out, in >= 1".into(),
            got: weight.shape().to_vec(),
        });
    }
    match bias {
        Some(b) => exact_shape(OP, "bias", b.shape(), &[weight.nrows()]),
        None => Ok(()),
    }
}

/// Refuses an input without `in_features` columns, and one whose output (`out_features` per
/// row) would be too large to allocate.
fn check_input(x: ArrayView2<f32>, in_features: usize, out_features: usize) -> Result<()> {
    if x.ncols() != in_features {
        return Err(Error::Shape {
            op: OP,
            tensor: "input",
            expected: format!("[N, {in_features}]"),
            got: x.shape().to_vec(),
        });
    }
    memory::check::<f32>(OP, "output", &[x.nrows(), out_features]).map(|_| ())
}

/// `weight` (`[out, in]`) as the GEMM's `A`.
fn pack(weight: ArrayView2<f32>) -> PackedA {
    let weight = weight.as_standard_layout();
    let (out, inputs) = weight.dim();
    let data = weight
        .as_slice()
        .expect("an array in standard layout is contiguous");
    PackedA::row_major(data, out, inputs)
}

/// `y = x · wᵀ + b` for `x` of at most [`gemv::MAX_BATCH`] rows, from the weight as it lies.
/// Refuses an output or a copy of the input that cannot be allocated.
fn few_rows(
    x: ArrayView2<f32>,
    weight: ArrayView2<f32>,
    bias: Option<ArrayView1<f32>>,
) -> Result<Array2<f32>> {
    let (batch, inputs) = x.dim();
    let out = weight.nrows();
    if batch == 0 {
        return memory::zeros(OP, "output", ndarray::Ix2(batch, out));
    }
    let weight = weight.as_standard_layout();
    let x = memory::standard_layout(OP, "input copy", x)?;
    let bias = bias.as_ref().map(|b| b.as_standard_layout());
    let contiguous = "an array in standard layout is contiguous";
    let (w, x) = (
        weight.as_slice().expect(contiguous),
        x.as_slice().expect(contiguous),
    );
    let bias = bias.as_ref().map(|b| b.as_slice().expect(contiguous));
    // The kernel writes `yᵀ`, `[out, batch]`: the output itself at batch 1.
    let mut yt = memory::zeros(OP, "output", ndarray::Ix2(out, batch))?;
    let yt_slice = yt.as_slice_mut().expect(contiguous);
    gemv::gemv(
        Isa::detect(),
        w,
        inputs,
        x,
        bias,
        Activation::Identity,
        yt_slice,
    );
    if batch == 1 {
        return Ok(yt
            .into_shape_with_order((1, out))
            .expect("one row of `out` values"));
    }
    let y = memory::into_owned(OP, "output", memory::standard_layout(OP, "output", yt.t())?)?;
    crate::arena::give(yt);
    Ok(y)
}

/// `yᵀ = w · xᵀ + b`: `B` is `x` read transposed, and `C` is `y` written transposed. Refuses
/// an output or a copy of the input that cannot be allocated.
fn apply(
    x: ArrayView2<f32>,
    weight: &PackedA,
    bias: Option<ArrayView1<f32>>,
) -> Result<Array2<f32>> {
    let (batch, inputs) = x.dim();
    let out = weight.m();
    let mut y = memory::zeros(OP, "output", ndarray::Ix2(batch, out))?;
    if batch == 0 {
        return Ok(y);
    }
    let x = memory::standard_layout(OP, "input copy", x)?;
    let bias = bias.as_ref().map(|b| b.as_standard_layout());
    let x = x
        .as_slice()
        .expect("an array in standard layout is contiguous");
    let y_slice = y.as_slice_mut().expect("a new array is contiguous");
    let epilogue = Epilogue {
        bias: bias.as_ref().map(|b| b.as_slice().expect("contiguous")),
        ..Epilogue::default()
    };
    gemm::sgemm(
        weight,
        &StridedB::new(x, inputs, batch, 1, inputs),
        MatMut::new(y_slice, out, batch, 1, out),
        &epilogue,
    );
    Ok(y)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::*;

    #[test]
    fn linear_refuses_an_input_with_the_wrong_feature_count() {
        let layer = Linear::new(Array2::zeros((10, 512)), None).unwrap();
        let err = layer.forward(Array2::zeros((2, 256)).view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linear: input has shape [2, 256], expected [N, 512]"
        );
    }

    #[test]
    fn a_few_rows_give_what_the_same_rows_give_in_a_larger_batch() {
        use crate::testing::{assert_close, sample};
        let layer = Linear::new(sample((37, 203), 1), Some(sample(37, 2))).unwrap();
        let x = sample((2 * gemv::MAX_BATCH + 1, 203), 3);
        let whole = layer.forward(x.view()).unwrap();
        for rows in 1..=gemv::MAX_BATCH {
            let part = layer.forward(x.slice(ndarray::s![..rows, ..])).unwrap();
            assert_close(&part, &whole.slice(ndarray::s![..rows, ..]).to_owned());
            let free = linear(
                x.slice(ndarray::s![..rows, ..]),
                layer.weight(),
                layer.bias(),
            );
            assert_eq!(free.unwrap(), part);
        }
        // A transposed input of a few rows takes the same path.
        let xt = x.slice(ndarray::s![..3, ..]).t().to_owned();
        assert_eq!(
            layer.forward(xt.t()).unwrap(),
            layer.forward(x.slice(ndarray::s![..3, ..])).unwrap()
        );
    }

    #[test]
    fn linear_matches_the_definition_for_a_batch_and_a_transposed_input() {
        use crate::testing::{assert_close, sample};
        let x = sample((23, 37), 1);
        let w = sample((19, 37), 2);
        let b = sample(19, 3);
        let want = Array2::from_shape_fn((23, 19), |(n, o)| {
            let dot: f64 = (0..37)
                .map(|i| f64::from(x[[n, i]]) * f64::from(w[[o, i]]))
                .sum();
            (dot + f64::from(b[o])) as f32
        });
        let layer = Linear::new(w.clone(), Some(b.clone())).unwrap();
        assert_close(&layer.forward(x.view()).unwrap(), &want);
        let x_t = x.t().to_owned();
        assert_close(&linear(x_t.t(), w.view(), Some(b.view())).unwrap(), &want);
    }

    #[test]
    fn linear_refuses_a_bias_of_the_wrong_length() {
        let err = Linear::new(Array2::zeros((10, 512)), Some(Array1::zeros(9))).unwrap_err();
        assert_eq!(err.to_string(), "linear: bias has shape [9], expected [10]");
    }
}
