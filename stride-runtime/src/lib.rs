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
//! # NaN and infinities
//!
//! Every op gives PyTorch's value on inputs that hold NaN, +inf or -inf: NaN propagates
//! wherever PyTorch's does (`relu(NaN)` is NaN, not 0; a pool window holding a NaN gives
//! NaN; an activation fused into a convolution's epilogue treats it exactly as the
//! activation op does), and infinities come out as PyTorch's arithmetic makes them (a
//! convolution window holding +inf gives +inf after a positive weight, and NaN where PyTorch
//! meets `inf - inf` or `inf * 0`; `silu(-inf)` is NaN). The same holds on the AVX2 and the
//! scalar paths, fused (a network after [`weights::LoadOptions::fuse`]) and unfused.
//! Finite results agree within the golden tolerance, as everywhere.
//!
//! One kernel needs a guard for it: Winograd's 3x3 transforms mix every input with
//! coefficients of both signs, which would turn one +inf into `inf - inf = NaN`. A 3x3 layer
//! scans its input first (about 1% of the layer's time) and sends an input holding a
//! non-finite value, or one above `2^64` in magnitude, to the direct im2col kernel. The
//! PyTorch cases are `tests/golden/nan/` (`tests/nan_golden.rs` in the repository).
//!
//! Subnormal numbers (magnitudes below `1.2e-38`) are flushed to zero while a network runs
//! and inside every kernel task (x86's FTZ and DAZ, set on entry and restored on the way out,
//! so the caller's thread keeps its own mode): arithmetic on them takes microcode assists, and
//! EfficientNet-B0 spent a sixth of its forward there. Results move by less than `1.2e-38` a
//! value; [`set_flush_subnormals`]`(false)` computes them exactly, as PyTorch does by default.
//! A logistic below `-87` (and so a sigmoid or SiLU gate) is 0 on every path, for the same
//! reason.
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
//!
//! # Threads
//!
//! Every network, layer, [`graph::Model`], [`weights::Weights`] and error is `Send + Sync`,
//! and `forward` takes `&self`: one network can serve many threads at once, with no lock held
//! while it computes (a forward takes the network's kept buffers at its start and gives them
//! back at its end; a forward that finds them taken allocates its own).
//! Each call gives the same bits whatever else runs and however many threads its kernels
//! use, since tasks split a layer's output and never a sum; a call inside an application's
//! own [`rayon::ThreadPool::install`][install], nested in another pool or not, runs its
//! kernels on that pool ([the `threads` module](mod@threads) has the policy). The repository's
//! `tests/threads.rs` checks all three, with 8 threads against a one-thread run, bit for
//! bit.
//!
//! [install]: https://docs.rs/rayon/1/rayon/struct.ThreadPool.html#method.install

mod arena;
pub mod custom;
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
pub use simd::set_flush_subnormals;
pub use stride_geometry::{GeometryError, Padding, Pads};
pub use threads::{set_threads, threads};
