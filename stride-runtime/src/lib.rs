//! CPU kernels and layers behind stride's networks: fp32, NCHW, any batch size.
//!
//! Each op is a function with a params type (`conv2d(x, w, b, &Conv2dParams)`), and each op
//! with weights also has a layer type that owns them for repeated calls (`Conv2d::forward`).
//! Shapes are checked at the edge and returned as [`Error`]s that name what was expected and
//! what came; nothing panics on user input.
//!
//! Around the ops: [`weights`] reads PyTorch checkpoints (safetensors) and writes them, [`init`]
//! draws torchvision's initial weights from a seed, [`typed`] puts a network's input and output
//! shapes in its type so that networks compose only when the shapes meet, and [`summary`]
//! prints a network's layer table.
//!
//! Inside, the crate is layered, each layer using only those below it (`tests/layering.rs`
//! checks that no two source files depend on each other): at the bottom [`simd`] (which
//! instruction set the kernels run on, the activations' per-value and vector forms and the
//! `exp`, `tanh` and `erf`-based `Φ` they are made of, short copies) and the working memory
//! per thread that the kernels borrow (`workspace.rs`); then the matrix multiply (`gemm/`);
//! then the ops, whose convolutions share one layer shell (`ops/conv_layer.rs`) and keep
//! their kernels in a directory each.
//!
//! ```
//! use ndarray::Array4;
//! use stride_runtime::ops::{max_pool2d, MaxPool2dParams};
//!
//! let x = Array4::<f32>::zeros((1, 64, 112, 112));
//! let y = max_pool2d(x.view(), &MaxPool2dParams::new(3).stride(2).padding(1))?;
//! assert_eq!(y.dim(), (1, 64, 56, 56));
//! # Ok::<(), stride_runtime::Error>(())
//! ```
//!
//! # Sizes
//!
//! Every op checks what it allocates before it allocates it (its output, a copy of an input
//! that is not in standard layout, a table with an entry per output row or column) and refuses
//! with [`Error::TooLarge`], naming the op, the tensor and its shape, one above `isize::MAX`
//! bytes (the most one allocation may hold, a bound that also catches every size that
//! overflows `usize`) or one the system allocator refuses. No size, however absurd (an
//! upsampling scale of `2^20`, a pool kernel of `2^40`, a broadcast view of `2^61` elements),
//! panics or aborts the process. Memory the kernels work in does not grow with the input
//! beyond a block size, and a layer's prepared weights hold as many values as its weights
//! (a transposed convolution's too, whatever its stride). One limit is the operating
//! system's: where it overcommits memory (Linux with `vm.overcommit_memory = 1`), a request
//! it grants but cannot back ends the process when it is written, as it would in PyTorch;
//! Linux's default refuses a single request larger than its memory and swap.
//!
//! ```
//! use ndarray::Array4;
//! use stride_runtime::Error;
//! use stride_runtime::ops::{upsample, UpsampleParams};
//!
//! let x = Array4::<f32>::ones((1, 3, 4, 4));
//! let err = upsample(x.view(), &UpsampleParams::scale(1 << 31)).unwrap_err();
//! assert!(matches!(err, Error::TooLarge { op: "upsample", .. }));
//! ```

mod error;
mod gemm;
pub mod graph;
mod hw;
pub mod init;
mod memory;
pub mod onnx;
pub mod ops;
pub mod simd;
pub mod summary;
#[cfg(test)]
mod testing;
pub mod threads;
pub mod typed;
pub mod weights;
mod workspace;

pub use error::{Error, Result};
pub use hw::{Hw, Padding2d};
pub use stride_geometry::{GeometryError, Padding, Pads};
pub use threads::{set_threads, threads};
