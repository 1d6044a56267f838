//! # A guide: from a torchvision model to Rust inference
//!
//! ## 1. Declare the network
//!
//! Write the model's module tree with [`network!`](crate::network). Name each layer as the
//! PyTorch module names it, so that the weight keys match the checkpoint's `state_dict`:
//!
//! ```
//! stride::network! {
//!     /// The first block of torchvision's VGG-16, numbered as its `features` Sequential is.
//!     #[sequential("features")]
//!     pub struct VggBlock1: [3, 224, 224] {
//!         conv1_1: conv2d(64, kernel = 3, padding = 1),
//!         relu1_1: relu,
//!         conv1_2: conv2d(64, kernel = 3, padding = 1),
//!         relu1_2: relu,
//!         pool1: max_pool2d(2),
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Every shape is computed while the program compiles; a layer that does not fit is a compile
//! error at its token, with the arithmetic. `VggBlock1::SUMMARY` prints the shapes, parameter
//! and MAC counts and receptive fields.
//!
//! ## 2. Export the weights from PyTorch
//!
//! ```text
//! import torchvision
//! from safetensors.torch import save_file
//!
//! model = torchvision.models.vgg16(weights="DEFAULT")
//! save_file(model.state_dict(), "vgg16.safetensors")
//! ```
//!
//! The file keeps PyTorch's names (`features.0.weight`, …). BatchNorm's `num_batches_tracked`
//! counters (int64) are skipped on loading.
//!
//! Or skip this step: the `.pth` that `torch.save(model.state_dict(), "vgg16.pth")` writes
//! loads as it is, through the same functions (the format is told by the file's first bytes).
//! So does a training checkpoint that keeps the model under `state_dict`, `model_state_dict`
//! or `model` beside its epoch and optimizer state;
//! [`Weights::open_entry`](crate::runtime::weights::Weights::open_entry) reads another entry.
//! The checkpoint's pickle is never run: a file that asks for anything but tensors and plain
//! containers (a whole pickled model, `os.system`) is refused, naming what it asked for.
//! `F16`, `BF16` and `F64` tensors are converted to `f32`, as `load_state_dict` converts them.
//!
//! ## 3. Load and run
//!
//! `load_safetensors` is strict, as `load_state_dict(strict=True)`: every missing key,
//! unexpected key, wrong shape and wrong dtype is reported at once. To take a part of a larger
//! checkpoint (the block above out of the whole VGG-16), load non-strictly:
//!
//! ```no_run
//! # stride::network! {
//! #     #[sequential("features")]
//! #     pub struct VggBlock1: [3, 224, 224] {
//! #         conv1_1: conv2d(64, kernel = 3, padding = 1),
//! #         relu1_1: relu,
//! #         conv1_2: conv2d(64, kernel = 3, padding = 1),
//! #         relu1_2: relu,
//! #         pool1: max_pool2d(2),
//! #     }
//! # }
//! use stride::runtime::weights::LoadOptions;
//!
//! let options = LoadOptions { strict: false, ..LoadOptions::default() };
//! let block = VggBlock1::load_safetensors_with("vgg16.safetensors", &options)?;
//! let images = ndarray::Array4::<f32>::zeros((8, 3, 224, 224));
//! let features = block.forward(images.view())?; // [8, 64, 112, 112]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! When the checkpoint names layers otherwise (timm and torchvision differ, and a model saved
//! from `nn.DataParallel` puts every key under `module.`), rename its keys instead of the
//! network's layers. The file's prefix is stripped, the rules apply in order, then a prefix is
//! added; a problem with a renamed key names both the file's key and the network's:
//!
//! ```no_run
//! # stride::network! {
//! #     #[sequential("features")]
//! #     pub struct VggBlock1: [3, 224, 224] {
//! #         conv1_1: conv2d(64, kernel = 3, padding = 1),
//! #         relu1_1: relu,
//! #         conv1_2: conv2d(64, kernel = 3, padding = 1),
//! #         relu1_2: relu,
//! #         pool1: max_pool2d(2),
//! #     }
//! # }
//! use stride::runtime::weights::LoadOptions;
//!
//! // A checkpoint whose keys read `module.backbone.0.weight` for the network's `features.0.weight`.
//! let options = LoadOptions { strict: false, ..LoadOptions::default() }
//!     .strip_prefix("module")
//!     .rename("backbone", "features");
//! let block = VggBlock1::load_safetensors_with("vgg16_ddp.pth", &options)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A wrong `C`, `H` or `W` is an error naming the expected and the given shape; any batch size
//! works. Loading fuses each batch norm into the convolution before it (see the generated
//! `fuse` and `unfuse`).
//!
//! ## 4. Threads and instruction sets
//!
//! Convolutions and pools split their work over rayon's global pool, so `RAYON_NUM_THREADS`,
//! or running inside a `rayon::ThreadPool::install`, sets the thread count;
//! [`runtime::set_threads`](crate::runtime::set_threads) sets it for this crate alone. Kernels
//! use AVX2 and FMA where the CPU has them, and the matrix multiply under the convolutions and
//! linear layers uses AVX-512 where the CPU has that too; `STRIDE_ISA=avx2` keeps such a CPU
//! on the AVX2 paths, and `STRIDE_FORCE_SCALAR=1` (or `STRIDE_ISA=scalar`) makes every kernel
//! take its portable path. Every path computes the same numbers within rounding.
//!
//! ## 5. Compose
//!
//! Networks declared separately chain under the type checker, which refuses a pair whose
//! shapes do not meet, with a message naming both networks:
//!
//! ```
//! use stride::runtime::typed::{Network, Tensor, Then};
//!
//! stride::network! {
//!     pub struct Stem: [3, 32, 32] {
//!         conv: conv2d(16, kernel = 3, stride = 2, padding = 1),
//!         relu: relu,
//!     }
//! }
//! stride::network! {
//!     pub struct Head: [16, 16, 16] {
//!         pool: global_avg_pool2d,
//!         flatten: flatten,
//!         fc: linear(10),
//!     }
//! }
//!
//! let net = Stem::init(0).then(Head::init(1));
//! let logits = net.forward_typed(Tensor::new(ndarray::Array4::zeros((4, 3, 32, 32)))?);
//! assert_eq!(logits.view().dim(), (4, 10));
//! # Ok::<(), stride::runtime::Error>(())
//! ```
//!
//! A network can also be a layer of another, in the same invocation (by name) or from another
//! one (`stem: Stem => [16, 16, 16]`, checked by constant assertions).
//!
//! ## 6. Layers of one's own
//!
//! A layer stride does not have is a type of yours implementing
//! [`CustomLayer`](crate::CustomLayer) and [`CustomShape`](crate::CustomShape), used as
//! `name: custom(Type)` (or `custom(Type, channels = N)` when its output has other channels).
//! Its shape rule is checked at compile time where the network uses it, and its tensors load
//! and save under the layer's key. A learned shift per channel, its `bias` loaded as
//! `shift.bias`:
//!
//! ```
//! use stride::ndarray::{Array1, Array4, ArrayView4, ArrayViewD, Ix1};
//! use stride::runtime::Result;
//! use stride::runtime::graph::{InitRule, TensorSpec};
//! use stride::{CustomLayer, CustomShape, CustomTensors};
//!
//! pub struct Shift {
//!     bias: Array1<f32>,
//! }
//!
//! impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for Shift {
//!     // Any feature map, its shape kept.
//!     const OUTPUT: Result<[usize; 3], &'static str> = Ok([C, H, W]);
//!     const TENSORS: &'static [TensorSpec] =
//!         &[TensorSpec { name: "bias", shape: &[C], init: InitRule::Zeros }];
//! }
//!
//! impl CustomLayer for Shift {
//!     const KIND: &'static str = "shift";
//!
//!     fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
//!         Ok(input)
//!     }
//!
//!     fn new(tensors: &mut CustomTensors) -> Result<Self> {
//!         let bias = tensors.take("bias")?.into_dimensionality::<Ix1>().expect("[C]");
//!         Ok(Shift { bias })
//!     }
//!
//!     fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
//!         let c = self.bias.len();
//!         Ok(&x + &self.bias.view().into_shape_with_order((1, c, 1, 1)).expect("contiguous"))
//!     }
//!
//!     fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f32>)> {
//!         vec![("bias", self.bias.view().into_dyn())]
//!     }
//! }
//!
//! stride::network! {
//!     pub struct Shifted: [3, 8, 8] {
//!         conv: conv2d(4, kernel = 3, padding = 1),
//!         shift: custom(Shift),
//!     }
//! }
//!
//! assert!(Shifted::SUMMARY.to_string().contains("shift"));
//! assert_eq!(Shifted::PARAMS, 4 * 3 * 9 + 4 + 4);
//! let y = Shifted::init(0).forward(Array4::zeros((1, 3, 8, 8)).view())?;
//! assert_eq!(y.dim(), (1, 4, 8, 8));
//! # Ok::<(), stride::runtime::Error>(())
//! ```
