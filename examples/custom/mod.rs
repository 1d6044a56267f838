//! Three layers of one's own, as `network!` runs them: a channel shuffle (ShuffleNet's), a
//! fixed Gaussian blur, and a learned shift per channel whose tensor is loaded and saved under
//! the layer's key. Each writes its shape rule once, as a `const fn`, that both the compile-time
//! check (`CustomShape::OUTPUT`) and the run-time one (`CustomLayer::output_shape`) call.

// Each program that includes this module uses some of its items.
#![allow(dead_code)]

use stride::CustomTensors;
use stride::ndarray::{Array1, Array4, ArrayView4, ArrayViewD, Ix1};
use stride::runtime::graph::{InitRule, TensorSpec};
use stride::runtime::{Error, Result};
use stride::{CustomLayer, CustomShape};

/// ShuffleNet's channel shuffle: the channels, seen as `G` groups of `C / G`, transposed to
/// `C / G` groups of `G`. Output channel `j * G + g` is input channel `g * (C / G) + j`.
pub struct ChannelShuffle<const G: usize>;

/// The channels must split into `G` groups; the shape is kept.
const fn shuffle_shape(groups: usize, input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    if groups == 0 || input[0] % groups != 0 {
        return Err("its groups must divide the channels");
    }
    Ok(input)
}

impl<const G: usize, const C: usize, const H: usize, const W: usize> CustomShape<C, H, W>
    for ChannelShuffle<G>
{
    const OUTPUT: Result<[usize; 3], &'static str> = shuffle_shape(G, [C, H, W]);
}

impl<const G: usize> CustomLayer for ChannelShuffle<G> {
    const KIND: &'static str = "channel_shuffle";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        shuffle_shape(G, input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(ChannelShuffle)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let (n, c, h, w) = x.dim();
        let per_group = c / G;
        let mut y = Array4::zeros((n, c, h, w));
        for g in 0..G {
            for j in 0..per_group {
                y.slice_mut(stride::ndarray::s![.., j * G + g, .., ..])
                    .assign(&x.slice(stride::ndarray::s![.., g * per_group + j, .., ..]));
            }
        }
        Ok(y)
    }
}

/// A fixed 3x3 Gaussian blur of each channel (the binomial kernel `[1, 2, 1] / 4` in each
/// direction, `sigma` about 0.7), zero-padded so that the size is kept.
pub struct GaussianBlur;

/// The blur takes any feature map and keeps its shape.
const fn blur_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    Ok(input)
}

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for GaussianBlur {
    const OUTPUT: Result<[usize; 3], &'static str> = blur_shape([C, H, W]);
}

impl CustomLayer for GaussianBlur {
    const KIND: &'static str = "gaussian_blur";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        blur_shape(input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(GaussianBlur)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        const TAPS: [f32; 3] = [0.25, 0.5, 0.25];
        let (n, c, h, w) = x.dim();
        let at = |b: usize, ch: usize, y: isize, z: isize| -> f32 {
            if y < 0 || z < 0 || y >= h as isize || z >= w as isize {
                0.0
            } else {
                x[[b, ch, y as usize, z as usize]]
            }
        };
        Ok(Array4::from_shape_fn((n, c, h, w), |(b, ch, y, z)| {
            let mut sum = 0.0;
            for (dy, ty) in TAPS.iter().enumerate() {
                for (dz, tz) in TAPS.iter().enumerate() {
                    let (yy, zz) = (y as isize + dy as isize - 1, z as isize + dz as isize - 1);
                    sum += ty * tz * at(b, ch, yy, zz);
                }
            }
            sum
        }))
    }
}

/// A learned shift per channel: `y[n, c, h, w] = x[n, c, h, w] + bias[c]`. Its tensor `bias`,
/// `[C]`, is loaded as `{key}.bias` and starts at zero.
pub struct ChannelBias {
    bias: Array1<f32>,
}

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for ChannelBias {
    const OUTPUT: Result<[usize; 3], &'static str> = blur_shape([C, H, W]);
    const TENSORS: &'static [TensorSpec] = &[TensorSpec {
        name: "bias",
        shape: &[C],
        init: InitRule::Zeros,
    }];
}

impl CustomLayer for ChannelBias {
    const KIND: &'static str = "channel_bias";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        blur_shape(input)
    }

    fn new(tensors: &mut CustomTensors) -> Result<Self> {
        let bias = tensors.take("bias")?;
        let got = bias.shape().to_vec();
        let bias = bias
            .into_dimensionality::<Ix1>()
            .map_err(|_| Error::Shape {
                op: "channel_bias",
                tensor: "bias",
                expected: "[C]".into(),
                got,
            })?;
        Ok(ChannelBias { bias })
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let (n, c, h, w) = x.dim();
        if c != self.bias.len() {
            return Err(Error::Shape {
                op: "channel_bias",
                tensor: "input",
                expected: format!("[N, {}, H, W]", self.bias.len()),
                got: vec![n, c, h, w],
            });
        }
        let bias = self
            .bias
            .view()
            .into_shape_with_order((1, c, 1, 1))
            .map_err(|_| Error::Param {
                op: "channel_bias",
                message: "its bias is not contiguous".into(),
            })?;
        Ok(&x + &bias)
    }

    fn tensors(&self) -> Vec<(&'static str, ArrayViewD<'_, f32>)> {
        vec![("bias", self.bias.view().into_dyn())]
    }
}

impl ChannelBias {
    /// The shift of each channel.
    pub fn bias(&self) -> &Array1<f32> {
        &self.bias
    }
}
