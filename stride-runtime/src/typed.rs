//! Tensors whose per-sample shape is part of their type, and networks that compose only when
//! one's output shape is the next one's input shape.
//!
//! The `network!` macro computes every layer's output size when it expands, so each network
//! it declares has a concrete input and output type, as `Chw<U<3>, U<224>, U<224>>` (typenum
//! numbers, so that generic code can still do arithmetic on them). [`Then::then`] joins two
//! networks, and the compiler refuses the join when the shapes differ, with a message that
//! names both networks:
//!
//! ```text
//! error[E0277]: `Head` cannot follow `Stem`: its input shape is not `Stem`'s output shape
//!   --> src/main.rs:9:25
//!    |
//!  9 |     let net = Stem.then(Head);
//!    |                         ^^^^ `Head` expects a different input than `Stem` produces
//!    |
//! help: the trait `Follows<Stem>` is not implemented for `Head`
//!    = note: compare `<Head as Network>::INPUT` with `<Stem as Network>::OUTPUT`
//! ```
//!
//! The batch size is not part of the type: a [`Tensor<Chw<C, H, W>>`](Tensor) holds an
//! `[N, C, H, W]` array for any `N`.
//!
//! ```
//! use ndarray::Array4;
//! use stride_runtime::typed::{Chw, Network, Tensor, Then};
//! use stride_runtime::typed::typenum::U;
//!
//! /// Halves height and width by keeping every other pixel: [3, 8, 8] -> [3, 4, 4].
//! struct Subsample;
//! impl Network for Subsample {
//!     type Input = Chw<U<3>, U<8>, U<8>>;
//!     type Output = Chw<U<3>, U<4>, U<4>>;
//!     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
//!         let y = x.view().slice(ndarray::s![.., .., ..;2, ..;2]).to_owned();
//!         Tensor::new(y).expect("every other pixel of 8 is 4")
//!     }
//! }
//!
//! /// Sums the channels: [3, 4, 4] -> [1, 4, 4].
//! struct SumChannels;
//! impl Network for SumChannels {
//!     type Input = Chw<U<3>, U<4>, U<4>>;
//!     type Output = Chw<U<1>, U<4>, U<4>>;
//!     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
//!         let y = x.view().sum_axis(ndarray::Axis(1)).insert_axis(ndarray::Axis(1));
//!         Tensor::new(y).expect("one channel")
//!     }
//! }
//!
//! let net = Subsample.then(SumChannels);
//! let x = Tensor::new(Array4::<f32>::ones((2, 3, 8, 8)))?;
//! assert_eq!(net.forward_typed(x).view().dim(), (2, 1, 4, 4));
//! # Ok::<(), stride_runtime::Error>(())
//! ```
//!
//! Swapping them does not compile:
//!
//! ```compile_fail,E0277
//! # use stride_runtime::typed::{Chw, Network, Tensor, Then};
//! # use stride_runtime::typed::typenum::U;
//! # struct Subsample;
//! # impl Network for Subsample {
//! #     type Input = Chw<U<3>, U<8>, U<8>>;
//! #     type Output = Chw<U<3>, U<4>, U<4>>;
//! #     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> { todo!() }
//! # }
//! # struct SumChannels;
//! # impl Network for SumChannels {
//! #     type Input = Chw<U<3>, U<4>, U<4>>;
//! #     type Output = Chw<U<1>, U<4>, U<4>>;
//! #     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> { todo!() }
//! # }
//! let net = SumChannels.then(Subsample); // [1, 4, 4] into a network that takes [3, 8, 8]
//! ```
//!
//! # Sizes and typenum
//!
//! `typenum::U<N>` (enabled by typenum's `const-generics` feature) covers `N` up to 1024 and
//! then only the powers of two, their predecessors and powers of ten: `U<2048>` works,
//! `U<25088>` (VGG's flattened `512 * 7 * 7`) does not. Any size can be written in typenum's
//! binary form instead, most significant bit innermost (`UInt<UInt<UInt<UTerm, B1>, B0>, B1>`
//! is 5), or as a product of covered sizes (`typenum::Prod<U<512>, U<49>>`).

use core::fmt;
use core::marker::PhantomData;

use ndarray::{Array, ArrayView, Dimension, Ix2, Ix4};
pub use typenum;
use typenum::Unsigned;

use crate::graph::{Graph, Module, Value};
use crate::{Error, Result};

/// A per-sample shape known to the type checker: the shape of one item of a batch.
///
/// ```
/// use stride_runtime::typed::{Chw, Dims, Flat};
/// use stride_runtime::typed::typenum::U;
///
/// assert_eq!(<Chw<U<64>, U<56>, U<56>> as Dims>::SHAPE, &[64, 56, 56]);
/// assert_eq!(<Flat<U<512>> as Dims>::SHAPE, &[512]);
/// ```
pub trait Dims: 'static {
    /// The array dimension of a batch of this shape: one more axis than [`SHAPE`](Dims::SHAPE)
    /// (`Ix4` for `[C, H, W]` maps, `Ix2` for feature vectors).
    type Dim: Dimension;

    /// The shape without the batch axis.
    const SHAPE: &'static [usize];

    /// Refuses a batch shape (`[N, …]`) whose sizes after the batch axis are not
    /// [`SHAPE`](Dims::SHAPE), with an [`Error::Shape`] naming `op` and `tensor` and the
    /// expected shape as `[N, 64, 56, 56]`. Any batch size passes.
    ///
    /// ```
    /// use stride_runtime::typed::{Chw, Dims};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// type Stem = Chw<U<64>, U<56>, U<56>>;
    /// assert!(Stem::check("resnet18", "output", &[8, 64, 56, 56]).is_ok());
    /// let err = Stem::check("resnet18", "output", &[8, 64, 55, 55]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "resnet18: output has shape [8, 64, 55, 55], expected [N, 64, 56, 56]"
    /// );
    /// ```
    fn check(op: &'static str, tensor: &'static str, shape: &[usize]) -> Result<()> {
        match shape.split_first() {
            Some((_, rest)) if rest == Self::SHAPE => Ok(()),
            _ => Err(Error::Shape {
                op,
                tensor,
                expected: batch_shape(Self::SHAPE),
                got: shape.to_vec(),
            }),
        }
    }
}

/// `[N, 64, 56, 56]` for `[64, 56, 56]`.
fn batch_shape(shape: &[usize]) -> String {
    let mut out = String::from("[N");
    for size in shape {
        out.push_str(&format!(", {size}"));
    }
    out.push(']');
    out
}

/// A feature map of `C` channels, `H` rows and `W` columns: batches are `[N, C, H, W]` arrays.
///
/// ```
/// use stride_runtime::typed::{Chw, Dims};
/// use stride_runtime::typed::typenum::U;
///
/// assert_eq!(<Chw<U<3>, U<224>, U<224>> as Dims>::SHAPE, &[3, 224, 224]);
/// ```
pub struct Chw<C, H, W>(PhantomData<(C, H, W)>);

impl<C, H, W> Dims for Chw<C, H, W>
where
    C: Unsigned + 'static,
    H: Unsigned + 'static,
    W: Unsigned + 'static,
{
    type Dim = Ix4;
    const SHAPE: &'static [usize] = &[C::USIZE, H::USIZE, W::USIZE];
}

/// A vector of `F` features: batches are `[N, F]` arrays.
///
/// ```
/// use stride_runtime::typed::{Dims, Flat};
/// use stride_runtime::typed::typenum::U;
///
/// assert_eq!(<Flat<U<1000>> as Dims>::SHAPE, &[1000]);
/// ```
pub struct Flat<F>(PhantomData<F>);

impl<F: Unsigned + 'static> Dims for Flat<F> {
    type Dim = Ix2;
    const SHAPE: &'static [usize] = &[F::USIZE];
}

/// The array type of a batch of shape `S`: `Array4<f32>` for [`Chw`], `Array2<f32>` for
/// [`Flat`].
///
/// ```
/// use stride_runtime::typed::{ArrayOf, Flat};
/// use stride_runtime::typed::typenum::U;
///
/// let a: ArrayOf<Flat<U<10>>> = ndarray::Array2::zeros((1, 10));
/// # let _ = a;
/// ```
pub type ArrayOf<S> = Array<f32, <S as Dims>::Dim>;

/// A batch of any size whose per-sample shape is `S`, checked once when it is made.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::typed::{Chw, Tensor};
/// use stride_runtime::typed::typenum::U;
///
/// let x = Tensor::<Chw<U<3>, U<32>, U<32>>>::new(Array4::zeros((5, 3, 32, 32)))?;
/// assert_eq!(x.batch(), 5);
/// let err = Tensor::<Chw<U<3>, U<32>, U<32>>>::new(Array4::zeros((5, 32, 32, 3))).unwrap_err();
/// assert_eq!(err.to_string(), "tensor: array has shape [5, 32, 32, 3], expected [N, 3, 32, 32]");
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub struct Tensor<S: Dims> {
    array: ArrayOf<S>,
}

impl<S: Dims> Tensor<S> {
    /// Wraps `array` after checking every size but the batch against `S`.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::typed::{Flat, Tensor};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// assert!(Tensor::<Flat<U<10>>>::new(Array2::zeros((3, 10))).is_ok());
    /// assert!(Tensor::<Flat<U<10>>>::new(Array2::zeros((3, 9))).is_err());
    /// ```
    pub fn new(array: ArrayOf<S>) -> Result<Self> {
        S::check("tensor", "array", array.shape())?;
        Ok(Tensor { array })
    }

    /// Wraps an array that generated code has already proved to have shape `S` (checked in
    /// debug builds only). Not part of the public API.
    #[doc(hidden)]
    pub fn __from_checked(array: ArrayOf<S>) -> Self {
        debug_assert!(
            S::check("tensor", "array", array.shape()).is_ok(),
            "shape {:?} is not [N, {:?}]",
            array.shape(),
            S::SHAPE
        );
        Tensor { array }
    }

    /// The batch size.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::typed::{Flat, Tensor};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// assert_eq!(Tensor::<Flat<U<4>>>::new(Array2::zeros((7, 4)))?.batch(), 7);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn batch(&self) -> usize {
        self.array.shape()[0]
    }

    /// The array.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::typed::{Flat, Tensor};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// let x = Tensor::<Flat<U<4>>>::new(Array2::ones((1, 4)))?;
    /// assert_eq!(x.array().sum(), 4.0);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn array(&self) -> &ArrayOf<S> {
        &self.array
    }

    /// A view of the array.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::typed::{Flat, Tensor};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// let x = Tensor::<Flat<U<4>>>::new(Array2::ones((2, 4)))?;
    /// assert_eq!(x.view().dim(), (2, 4));
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn view(&self) -> ArrayView<'_, f32, S::Dim> {
        self.array.view()
    }

    /// The array, unwrapped.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use stride_runtime::typed::{Flat, Tensor};
    /// use stride_runtime::typed::typenum::U;
    ///
    /// let x = Tensor::<Flat<U<4>>>::new(Array2::ones((2, 4)))?;
    /// let a: Array2<f32> = x.into_array();
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn into_array(self) -> ArrayOf<S> {
        self.array
    }
}

impl<S: Dims> Clone for Tensor<S> {
    fn clone(&self) -> Self {
        Tensor {
            array: self.array.clone(),
        }
    }
}

impl<S: Dims> PartialEq for Tensor<S> {
    fn eq(&self, other: &Self) -> bool {
        self.array == other.array
    }
}

impl<S: Dims> fmt::Debug for Tensor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &batch_shape(S::SHAPE))
            .field("array", &self.array)
            .finish()
    }
}

/// A network from one per-sample shape to another. The `network!` macro implements it for the
/// networks it declares; [`Then::then`] joins two of them.
///
/// ```
/// use stride_runtime::typed::{Flat, Network, Tensor};
/// use stride_runtime::typed::typenum::U;
///
/// struct Identity;
/// impl Network for Identity {
///     type Input = Flat<U<4>>;
///     type Output = Flat<U<4>>;
///     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
///         x
///     }
/// }
/// assert_eq!(Identity::INPUT, &[4]);
/// ```
pub trait Network {
    /// The per-sample input shape.
    type Input: Dims;
    /// The per-sample output shape.
    type Output: Dims;
    /// The input shape as numbers, for messages and for reading in a debugger.
    const INPUT: &'static [usize] = <Self::Input as Dims>::SHAPE;
    /// The output shape as numbers.
    const OUTPUT: &'static [usize] = <Self::Output as Dims>::SHAPE;

    /// Runs the network on a batch.
    fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output>;
}

/// Whether two shapes are equal, in a constant: generated code asserts with it that a network
/// used as a layer of another fits where it is used.
///
/// ```
/// use stride_runtime::typed::same_dims;
/// const FITS: bool = same_dims(&[64, 56, 56], &[64, 56, 56]);
/// assert!(FITS);
/// assert!(!same_dims(&[64, 56, 56], &[64, 28, 28]));
/// ```
pub const fn same_dims(a: &[usize], b: &[usize]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Type-level equality of two shapes: `S: SameShape<T>` holds exactly when `S` and `T` are the
/// same type. The composition traits below use it in a `where` clause (rather than an
/// associated-type equality, which rustc reports as a "type mismatch" spelled out in nested
/// `UInt<UInt<…>>`), so that a mismatch is reported through their own messages.
///
/// ```
/// use stride_runtime::typed::{Flat, SameShape, Tensor};
/// use stride_runtime::typed::typenum::U;
///
/// let x = Tensor::<Flat<U<2>>>::new(ndarray::Array2::zeros((1, 2)))?;
/// let y: Tensor<Flat<U<2>>> = <Flat<U<2>> as SameShape<Flat<U<2>>>>::cast(x);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "the shapes differ",
    label = "a network's input shape differs from the previous network's output shape"
)]
pub trait SameShape<T: Dims>: Dims + Sized {
    /// The tensor, retyped (it is the same type).
    fn cast(x: Tensor<Self>) -> Tensor<T>;
}

impl<S: Dims> SameShape<S> for S {
    fn cast(x: Tensor<S>) -> Tensor<S> {
        x
    }
}

/// A network whose input shape is `S`: for bounds written in terms of a shape.
///
/// A mismatch is reported with this trait's message; the help line that rustc adds after it
/// spells `S` out in typenum. [`Follows`], which [`Then::then`] uses, names networks instead.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::typed::{Accepts, Chw, Network, Tensor};
/// use stride_runtime::typed::typenum::U;
///
/// type Rgb32 = Chw<U<3>, U<32>, U<32>>;
///
/// /// Runs any network that takes 32x32 RGB images.
/// fn run<N: Accepts<Rgb32>>(net: &N, x: Tensor<Rgb32>) -> Tensor<N::Output> {
///     net.forward_from(x)
/// }
/// # struct Id;
/// # impl Network for Id {
/// #     type Input = Rgb32;
/// #     type Output = Rgb32;
/// #     fn forward_typed(&self, x: Tensor<Rgb32>) -> Tensor<Rgb32> { x }
/// # }
/// # let y = run(&Id, Tensor::new(Array4::zeros((1, 3, 32, 32)))?);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not accept this shape: its input shape is another",
    label = "`{Self}` expects a different input shape",
    note = "compare `<{Self} as Network>::INPUT` with the shape given here"
)]
pub trait Accepts<S: Dims>: Network {
    /// Runs the network on a batch of shape `S`.
    fn forward_from(&self, x: Tensor<S>) -> Tensor<Self::Output>;
}

#[diagnostic::do_not_recommend]
impl<N: Network, S: SameShape<N::Input>> Accepts<S> for N {
    fn forward_from(&self, x: Tensor<S>) -> Tensor<N::Output> {
        self.forward_typed(S::cast(x))
    }
}

/// A network that can run on `Prev`'s output: its input shape is `Prev`'s output shape.
///
/// This is the bound [`Then::then`] and [`Chain`] use. It is keyed on the previous network
/// rather than on its output shape so that a mismatch is reported with both networks' names,
/// and no typenum type appears in the message.
///
/// ```
/// use stride_runtime::typed::{Follows, Flat, Network, Tensor};
/// use stride_runtime::typed::typenum::U;
///
/// struct Id;
/// impl Network for Id {
///     type Input = Flat<U<4>>;
///     type Output = Flat<U<4>>;
///     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> { x }
/// }
/// fn assert_follows<A: Network, B: Follows<A>>() {}
/// assert_follows::<Id, Id>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot follow `{Prev}`: its input shape is not `{Prev}`'s output shape",
    label = "`{Self}` expects a different input than `{Prev}` produces",
    note = "compare `<{Self} as Network>::INPUT` with `<{Prev} as Network>::OUTPUT`"
)]
pub trait Follows<Prev: Network>: Network {
    /// Runs the network on `Prev`'s output.
    fn forward_after(&self, x: Tensor<Prev::Output>) -> Tensor<Self::Output>;
}

#[diagnostic::do_not_recommend]
impl<Prev: Network, N: Accepts<Prev::Output>> Follows<Prev> for N {
    fn forward_after(&self, x: Tensor<Prev::Output>) -> Tensor<N::Output> {
        self.forward_from(x)
    }
}

/// Two networks run one after the other; made by [`Then::then`].
///
/// ```
/// use stride_runtime::typed::{Flat, Network, Tensor, Then};
/// use stride_runtime::typed::typenum::U;
///
/// struct Id;
/// impl Network for Id {
///     type Input = Flat<U<4>>;
///     type Output = Flat<U<4>>;
///     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> { x }
/// }
/// let chain = Id.then(Id);
/// let (_first, _second): (&Id, &Id) = (&chain.first, &chain.second);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Chain<A, B> {
    /// The network that runs first.
    pub first: A,
    /// The network that runs on its output.
    pub second: B,
}

impl<A: Network, B: Follows<A>> Network for Chain<A, B> {
    type Input = A::Input;
    type Output = B::Output;

    fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        self.second.forward_after(self.first.forward_typed(x))
    }
}

/// Joins networks: `a.then(b)` runs `a`, then `b` on its output. Compiles only when `b`'s
/// input shape is `a`'s output shape.
///
/// ```
/// use stride_runtime::typed::{Flat, Network, Tensor, Then};
/// use stride_runtime::typed::typenum::U;
///
/// struct Double;
/// impl Network for Double {
///     type Input = Flat<U<2>>;
///     type Output = Flat<U<2>>;
///     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
///         Tensor::new(x.into_array() * 2.0).unwrap()
///     }
/// }
/// let y = Double.then(Double).forward_typed(Tensor::new(ndarray::array![[1.0f32, 2.0]])?);
/// assert_eq!(y.into_array(), ndarray::array![[4.0, 8.0]]);
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub trait Then: Network + Sized {
    /// `self`, then `next`.
    fn then<B: Follows<Self>>(self, next: B) -> Chain<Self, B> {
        Chain {
            first: self,
            second: next,
        }
    }
}

impl<N: Network> Then for N {}

/// A network that takes many input sizes (declared with names for its height and width,
/// `[3, H, W]`): what [`At`] fixes to one size. `network!` implements it for such networks.
pub trait AnySize: Module + Sized {
    /// The network's graph.
    const GRAPH: &'static Graph;
}

/// A network that takes many input sizes, at the one its type gives: constructed only when the
/// network takes `H` x `W` (else a compile error with the arithmetic of the layer that refuses
/// it), and composed with a network of fixed input by [`At::then`], which checks at compile
/// time that the first's output at this size is the second's input.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::typed::{At, Network, Tensor};
/// # use stride_runtime::graph::{Graph, Model, Module};
/// # use stride_runtime::typed::{AnySize, Chw, typenum::U};
/// # struct Identity(Model);
/// # impl Module for Identity {
/// #     fn model(&self) -> &Model { &self.0 }
/// #     fn model_mut(&mut self) -> &mut Model { &mut self.0 }
/// # }
/// # const G: Graph = {
/// #     use stride_runtime::summary::InputSize;
/// #     Graph {
/// #         output: &[3, 0, 0],
/// #         sizes: [InputSize { name: "H", min: 1, step: 1, regular: true }; 2],
/// #         ..Graph::new("Identity", [3, 0, 0])
/// #     }
/// # };
/// # impl AnySize for Identity { const GRAPH: &'static Graph = &G; }
/// # struct Head;
/// # impl Network for Head {
/// #     type Input = Chw<U<3>, U<8>, U<8>>;
/// #     type Output = Chw<U<3>, U<8>, U<8>>;
/// #     fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> { x }
/// # }
/// // `Identity` takes any size; at 8x8 it composes with `Head`, which takes [3, 8, 8].
/// let net = At::<_, 8, 8>::new(Identity(Model::init(&G, 0))).then(Head);
/// let x = Tensor::new(Array4::<f32>::ones((1, 3, 8, 8)))?;
/// assert_eq!(net.forward_typed(x).view().dim(), (1, 3, 8, 8));
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub struct At<N, const H: usize, const W: usize> {
    network: N,
}

impl<N: AnySize, const H: usize, const W: usize> At<N, H, W> {
    /// `network` at `H` x `W`; a size it does not take is a compile error.
    pub fn new(network: N) -> Self {
        const {
            if let Some(refusal) = N::GRAPH.refusal([H, W]) {
                panic!("{}", refusal.as_str());
            }
        };
        At { network }
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.network
    }

    /// This network, then `next`: a compile error unless this network's output at `H` x `W`
    /// is `next`'s input.
    pub fn then<B: Network>(self, next: B) -> AtThen<N, H, W, B> {
        const {
            let fits = match N::GRAPH.output_at([H, W]) {
                Some(out) => {
                    let shape = <B::Input as Dims>::SHAPE;
                    let wanted = if shape.len() == 1 {
                        [shape[0], 0, 0]
                    } else if shape.len() == 3 {
                        [shape[0], shape[1], shape[2]]
                    } else {
                        [0; 3]
                    };
                    same_dims(&out, &wanted)
                }
                None => false,
            };
            assert!(
                fits,
                "the network's output at this size is not the next network's input"
            );
        };
        AtThen {
            first: self,
            second: next,
        }
    }
}

/// The input shape of an [`At`]: the network's channels, `H` and `W`.
pub struct InputAt<N, const H: usize, const W: usize>(PhantomData<N>);

impl<N: AnySize + 'static, const H: usize, const W: usize> Dims for InputAt<N, H, W> {
    type Dim = Ix4;
    const SHAPE: &'static [usize] = &[N::GRAPH.input[0], H, W];
}

/// An [`At`] followed by a network of fixed input: a typed network from the `At`'s input to
/// the second network's output.
pub struct AtThen<N, const H: usize, const W: usize, B> {
    first: At<N, H, W>,
    second: B,
}

impl<N: AnySize + 'static, const H: usize, const W: usize, B: Network> Network
    for AtThen<N, H, W, B>
{
    type Input = InputAt<N, H, W>;
    type Output = B::Output;

    fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        let y = match self.first.network.run(x.view()) {
            Ok(Value::Map(y)) => y.into_owned().into_dyn(),
            Ok(Value::Flat(y)) => y.into_owned().into_dyn(),
            Err(e) => panic!("the input's size was checked at compile time: {e}"),
        };
        let y = y
            .into_dimensionality::<<B::Input as Dims>::Dim>()
            .unwrap_or_else(|e| panic!("the shapes were checked at compile time: {e}"));
        self.second.forward_typed(Tensor::__from_checked(y))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array4, Axis, s};
    use typenum::U;

    use super::*;

    /// [3, 8, 8] -> [4, 4, 4]: keeps every other pixel and appends a channel of their sums.
    struct Shrink;
    impl Network for Shrink {
        type Input = Chw<U<3>, U<8>, U<8>>;
        type Output = Chw<U<4>, U<4>, U<4>>;
        fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
            let half = x.view().slice(s![.., .., ..;2, ..;2]).to_owned();
            let sum = half.sum_axis(Axis(1)).insert_axis(Axis(1));
            let y = ndarray::concatenate(Axis(1), &[half.view(), sum.view()]).unwrap();
            Tensor::new(y).unwrap()
        }
    }

    /// [4, 4, 4] -> [64]: flattens.
    struct Flatten;
    impl Network for Flatten {
        type Input = Chw<U<4>, U<4>, U<4>>;
        type Output = Flat<U<64>>;
        fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
            Tensor::new(crate::ops::flatten(x.view()).unwrap()).unwrap()
        }
    }

    #[test]
    fn two_networks_whose_shapes_meet_compose_and_run_in_order() {
        let net = Shrink.then(Flatten);
        assert_eq!(<Chain<Shrink, Flatten> as Network>::INPUT, &[3, 8, 8]);
        assert_eq!(<Chain<Shrink, Flatten> as Network>::OUTPUT, &[64]);
        let x = Tensor::new(Array4::from_elem((2, 3, 8, 8), 1.0f32)).unwrap();
        let y = net.forward_typed(x).into_array();
        assert_eq!(y.dim(), (2, 64));
        // 48 copied ones and 16 channel sums of 3.
        assert_eq!(y.row(0).sum(), 48.0 + 16.0 * 3.0);
    }

    #[test]
    fn chains_nest() {
        struct Id;
        impl Network for Id {
            type Input = Flat<U<64>>;
            type Output = Flat<U<64>>;
            fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
                x
            }
        }
        let net = Shrink.then(Flatten).then(Id).then(Id);
        let y = net.forward_typed(Tensor::new(Array4::zeros((1, 3, 8, 8))).unwrap());
        assert_eq!(y.batch(), 1);
    }

    #[test]
    fn tensor_new_accepts_any_batch_size_including_zero() {
        for n in [0, 1, 7] {
            assert!(Tensor::<Chw<U<3>, U<8>, U<8>>>::new(Array4::zeros((n, 3, 8, 8))).is_ok());
        }
    }

    #[test]
    fn tensor_new_names_the_expected_shape_with_a_batch_symbol() {
        let err = Tensor::<Flat<U<512>>>::new(Array2::zeros((2, 256))).unwrap_err();
        assert_eq!(
            err,
            Error::Shape {
                op: "tensor",
                tensor: "array",
                expected: "[N, 512]".into(),
                got: vec![2, 256],
            }
        );
    }

    #[test]
    fn sizes_beyond_the_u_table_can_be_spelled_in_binary_or_as_a_product() {
        use typenum::{B0, B1, Prod, UInt, UTerm};
        // 25088 = 512 * 7 * 7, which `U<25088>` does not cover.
        type Vgg = Flat<Prod<U<512>, U<49>>>;
        assert_eq!(Vgg::SHAPE, &[25088]);
        type Five = UInt<UInt<UInt<UTerm, B1>, B0>, B1>;
        assert_eq!(<Flat<Five> as Dims>::SHAPE, &[5]);
    }
}
