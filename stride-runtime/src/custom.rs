//! Layers of one's own: a type that implements [`CustomLayer`] (what it is at run time) and
//! [`CustomShape`] (its shape rule and its tensors, at compile time) runs inside `network!`
//! as `name: custom(Type)`, shape-checked, loaded and saved under its key like any other layer.
//!
//! A proc macro cannot run the user's code, yet it works out every shape after the layer as it
//! expands. So the invocation states the layer's output (its input's shape, or other channels
//! with `custom(Type, channels = 128)`), and the generated code checks that statement against
//! the layer's own rule by constant evaluation: `<Type as CustomShape<C, H, W>>::OUTPUT` at
//! the shape flowing in. A rule that refuses the input, or gives another output, is a compile
//! error naming the layer, the input and both shapes. At run time, [`CustomLayer::output_shape`]
//! gives the rule again for each input (a network declared for any size meets many), and the
//! output of [`CustomLayer::forward`] is checked against it.
//!
//! Each type writes its rule once, as a `const fn` that both call: see [`CustomLayer`] for an
//! example.
//!
//! A layer with weights lists them in [`CustomShape::TENSORS`] (names, shapes, initial
//! values), takes them in [`CustomLayer::new`] and hands them back for saving in
//! [`CustomLayer::tensors`]; they are loaded as `{key}.{name}`, and a strict load reports
//! them missing or unexpected like any other layer's.
//!
//! The network has an accessor named after the layer that returns it as its type
//! (`net.shuffle()`), as [`Model::custom_at`](crate::graph::Model::custom_at) does.
//!
//! A custom layer is opaque to the rest of the runtime: no fusion group starts, passes
//! through or ends at it, its MACs count as 0 and the receptive field ends at it in the
//! summary, and the ONNX export refuses it by name
//! ([`ExportError::Unsupported`](crate::onnx::ExportError::Unsupported)).

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use ndarray::{Array4, ArrayD, ArrayView4, ArrayViewD};

use crate::graph::TensorSpec;
use crate::{Error, Result};

/// A layer of one's own, run by the network it is declared in as `name: custom(Type)`.
///
/// `forward` runs on the network's thread pool, hence `Send + Sync`. Its errors are values:
/// the network reports them under the layer's key.
///
/// Write the shape rule once, as a `const fn`, and call it from both [`CustomShape::OUTPUT`]
/// and [`CustomLayer::output_shape`]. A channel shuffle (ShuffleNet's):
///
/// ```
/// use ndarray::{Array4, ArrayView4};
/// use stride_runtime::custom::{CustomLayer, CustomShape, CustomTensors};
/// use stride_runtime::Result;
///
/// /// ShuffleNet's channel shuffle: `G` groups of channels, interleaved.
/// pub struct ChannelShuffle<const G: usize>;
///
/// /// The rule: the channels must split into `G` groups; the shape is kept.
/// const fn shuffled(groups: usize, input: [usize; 3]) -> Result<[usize; 3], &'static str> {
///     if groups == 0 || input[0] % groups != 0 {
///         return Err("the channels must split evenly into its groups");
///     }
///     Ok(input)
/// }
///
/// impl<const G: usize, const C: usize, const H: usize, const W: usize> CustomShape<C, H, W>
///     for ChannelShuffle<G>
/// {
///     const OUTPUT: Result<[usize; 3], &'static str> = shuffled(G, [C, H, W]);
/// }
///
/// impl<const G: usize> CustomLayer for ChannelShuffle<G> {
///     const KIND: &'static str = "channel_shuffle";
///
///     fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
///         shuffled(G, input)
///     }
///
///     fn new(_: &mut CustomTensors) -> Result<Self> {
///         Ok(ChannelShuffle)
///     }
///
///     fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
///         let (n, c, h, w) = x.dim();
///         let per_group = c / G;
///         // Output channel `j * G + g` is input channel `g * per_group + j`.
///         Ok(Array4::from_shape_fn((n, c, h, w), |(b, o, y, z)| {
///             x[[b, (o % G) * per_group + o / G, y, z]]
///         }))
///     }
/// }
///
/// assert_eq!(<ChannelShuffle<4> as CustomShape<8, 2, 2>>::OUTPUT, Ok([8, 2, 2]));
/// assert!(<ChannelShuffle<3> as CustomShape<8, 2, 2>>::OUTPUT.is_err());
/// let x = Array4::from_shape_fn((1, 4, 1, 1), |(_, c, _, _)| c as f32);
/// let y = ChannelShuffle::<2>.forward(x.view())?;
/// assert_eq!(y.iter().copied().collect::<Vec<_>>(), [0.0, 2.0, 1.0, 3.0]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
///
///
/// In a network: `shuffle: custom(ChannelShuffle<4>)`; a layer whose output has other
/// channels than its input is stated so, `custom(Type, channels = 128)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a custom layer",
    label = "`network!` runs this type as a layer",
    note = "implement `stride::CustomLayer` for `{Self}` (its kind, forward and tensors) and \
            `stride::CustomShape<C, H, W>` (its shape rule)"
)]
pub trait CustomLayer: Send + Sync + Sized + 'static {
    /// Its kind, as the summary and errors name it: `"channel_shuffle"`.
    const KIND: &'static str;

    /// Its output shape `[C, H, W]` for an input shape, or why it refuses the input: the same
    /// rule as [`CustomShape::OUTPUT`], at run time, for each input the network is given.
    ///
    /// # Errors
    /// A message saying what the layer needs of its input.
    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str>;

    /// The layer, from its tensors (those [`CustomShape::TENSORS`] names, loaded or drawn
    /// from the network's seed).
    ///
    /// # Errors
    /// Tensors that do not make the layer.
    fn new(tensors: &mut CustomTensors) -> Result<Self>;

    /// Its output for a batch `[N, C, H, W]`, of the shape [`CustomLayer::output_shape`]
    /// gives for `[C, H, W]` (the network checks it).
    ///
    /// # Errors
    /// Whatever the layer refuses.
    fn forward(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>>;

    /// Its tensors by name, for saving: the names [`CustomShape::TENSORS`] lists.
    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f32>)> {
        Vec::new()
    }
}

/// A custom layer's shape rule and its tensors at the input `[C, H, W]`, evaluated by the
/// compiler where `network!` uses the layer.
///
/// Implement it generically over `C`, `H` and `W`. In a network that takes many sizes
/// (declared with names, `[3, H, W]`), `H` and `W` are 0 here, so that the compile-time check
/// is of the channels; [`CustomLayer::output_shape`] applies the rule to each real size at run
/// time.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no shape rule: `stride::CustomShape` is not implemented for it",
    label = "`network!` checks this layer's shape with it",
    note = "a custom layer implements `stride::CustomLayer`, and `stride::CustomShape` for every \
            input: `impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> \
            for {Self} {{ const OUTPUT: … }}`"
)]
pub trait CustomShape<const C: usize, const H: usize, const W: usize>: CustomLayer {
    /// The output shape `[C, H, W]` for this input, or why the layer refuses it.
    const OUTPUT: Result<[usize; 3], &'static str>;

    /// The tensors it stores, loaded as `{key}.{name}` and drawn by [`TensorSpec::init`]
    /// when the network is initialised from a seed.
    const TENSORS: &'static [TensorSpec] = &[];
}

/// A custom layer's tensors, loaded or drawn, for [`CustomLayer::new`] to take by name.
pub struct CustomTensors {
    kind: &'static str,
    items: Vec<(&'static str, ArrayD<f32>)>,
}

impl CustomTensors {
    /// The tensors of a layer of kind `kind`.
    pub fn new(kind: &'static str, items: Vec<(&'static str, ArrayD<f32>)>) -> Self {
        CustomTensors { kind, items }
    }

    /// Takes tensor `name`, in the shape its [`TensorSpec`] gives.
    ///
    /// ```
    /// use ndarray::ArrayD;
    /// use stride_runtime::custom::CustomTensors;
    ///
    /// let mut tensors = CustomTensors::new("blur", vec![("weight", ArrayD::zeros(vec![2]))]);
    /// assert_eq!(tensors.take("weight")?.shape(), [2]);
    /// assert!(tensors.take("weight").is_err());
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    ///
    /// # Errors
    /// A name the layer was not given (or already took).
    pub fn take(&mut self, name: &str) -> Result<ArrayD<f32>> {
        match self.items.iter().position(|(n, _)| *n == name) {
            Some(at) => Ok(self.items.swap_remove(at).1),
            None => Err(Error::Param {
                op: self.kind,
                message: format!("no tensor `{name}`: its `CustomShape::TENSORS` does not list it"),
            }),
        }
    }
}

/// What a graph holds of a custom layer's type: its kind and how to build and identify it.
/// `network!` writes it as `&<Type as CustomNode>::NODE`.
#[derive(Clone, Copy)]
pub struct CustomOp {
    /// [`CustomLayer::KIND`].
    pub kind: &'static str,
    build: fn(&mut CustomTensors) -> Result<Arc<dyn Erased>>,
    type_id: fn() -> TypeId,
}

impl CustomOp {
    /// The op of `T`.
    pub const fn of<T: CustomLayer>() -> CustomOp {
        CustomOp {
            kind: T::KIND,
            build: build::<T>,
            type_id: TypeId::of::<T>,
        }
    }

    /// The layer, from its tensors.
    pub(crate) fn build(&self, tensors: &mut CustomTensors) -> Result<CustomSlot> {
        (self.build)(tensors).map(CustomSlot)
    }
}

impl fmt::Debug for CustomOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({})", self.kind)
    }
}

impl PartialEq for CustomOp {
    /// The same layer type.
    fn eq(&self, other: &Self) -> bool {
        (self.type_id)() == (other.type_id)()
    }
}

fn build<T: CustomLayer>(tensors: &mut CustomTensors) -> Result<Arc<dyn Erased>> {
    Ok(Arc::new(T::new(tensors)?))
}

/// [`CustomOp::of`] as a constant, for the graph to borrow for `'static`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a custom layer: `stride::CustomLayer` is not implemented for it",
    label = "`network!` runs this type as a layer",
    note = "implement `stride::CustomLayer` for `{Self}` (its kind, forward and tensors)"
)]
pub trait CustomNode {
    /// The type's op.
    const NODE: CustomOp;
}

impl<T: CustomLayer> CustomNode for T {
    const NODE: CustomOp = CustomOp::of::<T>();
}

/// A custom layer behind its type.
trait Erased: Send + Sync {
    fn forward(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>>;
    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3], &'static str>;
    fn kind(&self) -> &'static str;
    fn tensor(&self, name: &str) -> Option<ArrayViewD<'_, f32>>;
    fn as_any(&self) -> &dyn Any;
}

impl<T: CustomLayer> Erased for T {
    fn forward(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        CustomLayer::forward(self, input)
    }

    fn output_shape(&self, input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        T::output_shape(input)
    }

    fn kind(&self) -> &'static str {
        T::KIND
    }

    fn tensor(&self, name: &str) -> Option<ArrayViewD<'_, f32>> {
        self.tensors()
            .into_iter()
            .find_map(|(n, t)| (n == name).then_some(t))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A built custom layer, as a model holds it.
#[derive(Clone)]
pub(crate) struct CustomSlot(Arc<dyn Erased>);

impl fmt::Debug for CustomSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({})", self.0.kind())
    }
}

impl CustomSlot {
    /// The layer's forward, refusing an input its rule refuses and an output its rule does
    /// not give.
    pub(crate) fn forward(&self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let kind = self.0.kind();
        let (n, c, h, w) = input.dim();
        let expected = self.0.output_shape([c, h, w]).map_err(|why| Error::Param {
            op: kind,
            message: format!("refuses the input [{c}, {h}, {w}]: {why}"),
        })?;
        let y = self.0.forward(input)?;
        let [oc, oh, ow] = expected;
        if y.dim() != (n, oc, oh, ow) {
            return Err(Error::Shape {
                op: kind,
                tensor: "output",
                expected: format!("[{n}, {oc}, {oh}, {ow}], what its shape rule gives"),
                got: y.shape().to_vec(),
            });
        }
        Ok(y)
    }

    /// Its tensor `name`, for saving.
    pub(crate) fn tensor(&self, name: &str) -> Option<ArrayViewD<'_, f32>> {
        self.0.tensor(name)
    }

    /// The layer as a `T`, if it is one.
    pub(crate) fn downcast<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }
}

/// How many values `tensors` hold in all: a custom layer's parameters, saturating at
/// `u64::MAX`.
#[doc(hidden)]
pub const fn tensor_values(tensors: &[TensorSpec]) -> u64 {
    let mut total: u64 = 0;
    let mut t = 0;
    while t < tensors.len() {
        let shape = tensors[t].shape;
        let mut values: u64 = 1;
        let mut d = 0;
        while d < shape.len() {
            values = values.saturating_mul(shape[d] as u64);
            d += 1;
        }
        total = total.saturating_add(values);
        t += 1;
    }
    total
}

/// Checks a custom layer's rule against what the invocation declares, at compile time: a
/// panic here is a compile error whose message is the panic's. `layer` and `ty` name it,
/// `input` is the shape flowing in and `declared` what `network!` takes its output to be (0
/// for the height and width of a network that takes many sizes, which are not compared).
#[doc(hidden)]
pub const fn check_custom_shape(
    layer: &str,
    ty: &str,
    input: [usize; 3],
    rule: Result<[usize; 3], &str>,
    declared: [usize; 3],
) {
    let head = Message::new().str("`").str(layer).str("`: `").str(ty);
    let output = match rule {
        Ok(output) => output,
        Err(why) => {
            let m = head
                .str("` refuses its input ")
                .dims(input)
                .str(": ")
                .str(why);
            panic!("{}", m.as_str());
        }
    };
    let mut axis = 0;
    while axis < 3 {
        if declared[axis] != 0 && output[axis] != declared[axis] {
            let m = head
                .str("`'s shape rule gives ")
                .dims(output)
                .str(" for the input ")
                .dims(input)
                .str(", but the network takes its output to be ")
                .dims(declared);
            let m = if axis == 0 {
                m.str("; state its channels: `custom(")
                    .str(ty)
                    .str(", channels = ")
                    .num(output[0])
                    .str(")`")
            } else {
                m.str("; a custom layer in `network!` keeps its input's height and width")
            };
            panic!("{}", m.as_str());
        }
        axis += 1;
    }
}

/// A message written at compile time, where `format!` is not available.
#[derive(Clone, Copy)]
struct Message {
    bytes: [u8; 512],
    len: usize,
}

impl Message {
    const fn new() -> Message {
        Message {
            bytes: [0; 512],
            len: 0,
        }
    }

    /// `text` appended, whole if it fits (a message that long is cut there).
    const fn str(mut self, text: &str) -> Message {
        let text = text.as_bytes();
        if self.len + text.len() > self.bytes.len() {
            return self;
        }
        let mut i = 0;
        while i < text.len() {
            self.bytes[self.len + i] = text[i];
            i += 1;
        }
        self.len += text.len();
        self
    }

    /// `n` in decimal.
    const fn num(self, mut n: usize) -> Message {
        let mut digits = [0u8; 20];
        let mut count = 0;
        loop {
            digits[digits.len() - 1 - count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let (_, tail) = digits.split_at(digits.len() - count);
        match core::str::from_utf8(tail) {
            Ok(text) => self.str(text),
            Err(_) => self,
        }
    }

    /// `[64, 56, 56]`, with `_` for a size that depends on the network's input.
    const fn dims(self, dims: [usize; 3]) -> Message {
        let mut m = self.str("[");
        let mut i = 0;
        while i < 3 {
            if i > 0 {
                m = m.str(", ");
            }
            m = if dims[i] == 0 {
                m.str("_")
            } else {
                m.num(dims[i])
            };
            i += 1;
        }
        m.str("]")
    }

    const fn as_str(&self) -> &str {
        let (text, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(text) {
            Ok(text) => text,
            Err(_) => "a custom layer's shape does not fit",
        }
    }
}
