//! The value that flows between a graph's nodes.

use ndarray::{Array2, Array4, ArrayView4, CowArray, Ix2, Ix4};

use crate::{Error, Result, memory};

/// What flows between a graph's nodes: a batch of feature maps `[N, C, H, W]` or of feature
/// vectors `[N, F]`, borrowed (a network's input, a branch point) or owned.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    /// `[N, C, H, W]`.
    Map(CowArray<'a, f32, Ix4>),
    /// `[N, F]`.
    Flat(CowArray<'a, f32, Ix2>),
}

impl<'a> Value<'a> {
    /// A borrowed value of the same array.
    pub fn view(&self) -> Value<'_> {
        match self {
            Value::Map(a) => Value::Map(a.view().into()),
            Value::Flat(a) => Value::Flat(a.view().into()),
        }
    }

    /// The shape, batch first.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::Map(a) => a.shape(),
            Value::Flat(a) => a.shape(),
        }
    }

    /// The feature maps, owned; refuses feature vectors, naming `op`.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::graph::Value;
    ///
    /// let flat = Value::Flat(Array2::<f32>::zeros((1, 10)).into());
    /// assert_eq!(
    ///     flat.into_map("Head").unwrap_err().to_string(),
    ///     "Head: output has shape [1, 10], expected [N, C, H, W]"
    /// );
    /// ```
    pub fn into_map(self, op: &'static str) -> Result<Array4<f32>> {
        memory::into_owned(op, "output", self.map(op, "output")?)
    }

    /// The feature vectors, owned; refuses feature maps, naming `op`.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::graph::Value;
    ///
    /// let flat = Value::Flat(Array2::<f32>::ones((1, 10)).into());
    /// assert_eq!(flat.into_flat("Head")?.sum(), 10.0);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn into_flat(self, op: &'static str) -> Result<Array2<f32>> {
        memory::into_owned(op, "output", self.flat(op, "output")?)
    }

    pub(super) fn map(
        self,
        op: &'static str,
        tensor: &'static str,
    ) -> Result<CowArray<'a, f32, Ix4>> {
        match self {
            Value::Map(a) => Ok(a),
            Value::Flat(a) => Err(wrong_rank(op, tensor, a.shape(), "[N, C, H, W]")),
        }
    }

    pub(super) fn flat(
        self,
        op: &'static str,
        tensor: &'static str,
    ) -> Result<CowArray<'a, f32, Ix2>> {
        match self {
            Value::Flat(a) => Ok(a),
            Value::Map(a) => Err(wrong_rank(op, tensor, a.shape(), "[N, F]")),
        }
    }
}

fn wrong_rank(op: &'static str, tensor: &'static str, got: &[usize], expected: &str) -> Error {
    Error::Shape {
        op,
        tensor,
        expected: expected.into(),
        got: got.to_vec(),
    }
}

impl From<Array4<f32>> for Value<'_> {
    fn from(a: Array4<f32>) -> Self {
        Value::Map(a.into())
    }
}

impl From<Array2<f32>> for Value<'_> {
    fn from(a: Array2<f32>) -> Self {
        Value::Flat(a.into())
    }
}

impl<'a> From<ArrayView4<'a, f32>> for Value<'a> {
    fn from(a: ArrayView4<'a, f32>) -> Self {
        Value::Map(a.into())
    }
}
