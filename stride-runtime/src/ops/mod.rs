//! The ops: one public function per op, a params type where it has parameters, and a layer type
//! that owns its weights for repeated calls.

mod activation;
mod batch_norm;
mod check;
mod conv2d;
mod conv_layer;
mod conv_transpose2d;
mod fuse;
mod layer_norm;
mod linear;
mod plane;
mod pool;
mod scale;
mod shape;
mod taps;
mod upsample;

pub use activation::{
    gelu, gelu_tanh, hardsigmoid, hardswish, leaky_relu, relu, relu6, sigmoid, silu, tanh,
};
pub use batch_norm::{BatchNorm2d, batch_norm2d};
pub use conv_transpose2d::{ConvTranspose2d, ConvTranspose2dParams, conv_transpose2d};
pub use conv2d::{Conv2d, Conv2dParams, conv2d};
pub use fuse::{FusableLayer, Fused, fold_batch_norm, fold_batch_norm_transposed};
pub use layer_norm::{LayerNorm2d, layer_norm2d};
pub use linear::{Linear, linear};
pub use pool::{
    AvgPool2dParams, MaxPool2dParams, adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d,
    max_pool2d,
};
pub use scale::{LayerScale, scale_channels, scale_channels_in_place};
pub use shape::{add, add_assign, as_nchw, check_nchw, concat_channels, flatten};
pub use upsample::{UpsampleMode, UpsampleParams, UpsampleTarget, upsample};

pub use crate::simd::activation::Activation;
