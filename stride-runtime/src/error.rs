use stride_geometry::GeometryError;

/// The runtime's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why an op or a layer refused its input or its weights. Every variant names the op and
/// what it expected.
///
/// Its `Debug` form is its message, which is what `unwrap` and a `main` that returns the
/// error with `?` print.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::ops::adaptive_avg_pool2d;
///
/// let err = adaptive_avg_pool2d(Array4::zeros((1, 1, 2, 2)).view(), (0, 1)).unwrap_err();
/// let message = "adaptive_avg_pool2d: height: output size must be at least 1, got 0";
/// assert_eq!((err.to_string().as_str(), format!("{err:?}").as_str()), (message, message));
/// ```
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor whose shape is not the one the op needs.
    #[error("{op}: {tensor} has shape {got:?}, expected {expected}")]
    Shape {
        /// The op or layer, as `conv2d`.
        op: &'static str,
        /// Which tensor: `input`, `weight`, `bias`, …
        tensor: &'static str,
        /// The shape it should have, with symbols for free sizes: `[N, 64, H, W]`.
        expected: String,
        /// The shape it has.
        got: Vec<usize>,
    },
    /// A layer whose geometry does not work for this input (an output size below 1, padding
    /// above half a pool's kernel, a zero stride, …).
    #[error("{op}: {axis}{source}")]
    Geometry {
        /// The op or layer.
        op: &'static str,
        /// `"height: "`, `"width: "`, or empty when the rule is not about one axis.
        axis: &'static str,
        /// The rule that refused it, with its numbers.
        source: GeometryError,
    },
    /// An input size a network does not take: its message names the layer that refuses it,
    /// with the arithmetic, and the sizes the network takes.
    #[error("{message}")]
    InputSize {
        /// The network.
        op: &'static str,
        /// What refused the size and why.
        message: String,
    },
    /// An error from one layer of a network, with the layer's key.
    #[error("`{layer}`: {source}")]
    Layer {
        /// The layer's key in the network: `layer1.0.conv1`.
        layer: &'static str,
        /// What the layer's op refused.
        source: Box<Error>,
    },
    /// A tensor the op would have to allocate that cannot be: more than `isize::MAX` bytes
    /// (the most one allocation may hold, a bound that also covers sizes that overflow
    /// `usize`), or an allocation the system refused. Absurd parameters give it (an
    /// upsampling scale of `2^20`, an adaptive pool to `2^40` rows), as do huge broadcast
    /// views, whose copies would be far larger than memory.
    #[error("{op}: {tensor} of shape {shape:?} {}", too_large(*bytes, *refused))]
    TooLarge {
        /// The op or layer.
        op: &'static str,
        /// What it would have allocated: `output`, `input copy`, `window table`, …
        tensor: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// Its size in bytes; `None` when its dimensions multiply past `isize::MAX`.
        bytes: Option<u128>,
        /// Whether the size was within the `isize::MAX` bound and the system refused it.
        refused: bool,
    },
    /// A parameter outside what the op supports, as a non-finite scale factor.
    #[error("{op}: {message}")]
    Param {
        /// The op or layer.
        op: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// Its message: readable where `unwrap` or `main` prints it.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The end of [`Error::TooLarge`]'s message: the size and the limit it passes.
fn too_large(bytes: Option<u128>, refused: bool) -> String {
    match (bytes, refused) {
        (Some(bytes), true) => {
            format!("needs {bytes} bytes, which the system refused to allocate")
        }
        (Some(bytes), false) => format!(
            "is too large: {bytes} bytes, above isize::MAX ({}), the most one allocation can hold",
            isize::MAX
        ),
        (None, _) => format!(
            "is too large: its dimensions multiply past isize::MAX ({}), the most elements an \
             array can index",
            isize::MAX
        ),
    }
}

impl Error {
    /// A [`Error::Geometry`] for the given axis (0 is height, 1 is width).
    pub(crate) fn geometry(op: &'static str, axis: usize, source: GeometryError) -> Self {
        let axis = if axis == 0 { "height: " } else { "width: " };
        Error::Geometry { op, axis, source }
    }

    /// This error, as raised by the network layer whose key is `layer` (an error that names
    /// a layer already is kept as it is: the innermost layer is the one to fix).
    pub(crate) fn in_layer(self, layer: &'static str) -> Self {
        match self {
            Error::Layer { .. } => self,
            other => Error::Layer {
                layer,
                source: Box::new(other),
            },
        }
    }

    /// A [`Error::Geometry`] not tied to an axis.
    pub(crate) fn rule(op: &'static str, source: GeometryError) -> Self {
        Error::Geometry {
            op,
            axis: "",
            source,
        }
    }
}
