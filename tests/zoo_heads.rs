//! The zoo's ConvNeXt, EfficientNet and MobileNetV3 heads, composed by hand from the runtime's
//! ops under torchvision's keys, against PyTorch's output: the layer norm, GELU and layer
//! scale of ConvNeXt's blocks, and the squeeze-excitation gates (SiLU + sigmoid,
//! ReLU + hard sigmoid) and hard swish of the other two, in the networks they were made for,
//! on the AVX2 path and the scalar one.

mod support;

use ndarray::{Array1, Array4, ArrayD, Ix2};
use safetensors::SafeTensors;
use stride::runtime::ops::*;
use support::{golden, on_each_path, worst_difference};

/// A golden network file: its tensors by `state_dict` key.
struct Weights<'a>(SafeTensors<'a>);

impl Weights<'_> {
    fn get(&self, key: &str) -> ArrayD<f32> {
        support::tensor(&self.0, key)
    }

    fn t4(&self, key: &str) -> Array4<f32> {
        self.get(key).into_dimensionality().unwrap()
    }

    fn t1(&self, key: &str) -> Array1<f32> {
        self.get(key).into_dimensionality().unwrap()
    }

    /// The convolution `key` (`key.weight`, and `key.bias` if `bias`), padded by half its
    /// kernel, as every one of these networks' convolutions but ConvNeXt's stem.
    fn conv(&self, key: &str, stride: usize, groups: usize, bias: bool) -> Conv2d {
        let padding = self.get(&format!("{key}.weight")).shape()[2] / 2;
        self.conv_padded(key, stride, padding, groups, bias)
    }

    /// [`Weights::conv`] with its padding.
    fn conv_padded(
        &self,
        key: &str,
        stride: usize,
        padding: usize,
        groups: usize,
        bias: bool,
    ) -> Conv2d {
        let weight = self.t4(&format!("{key}.weight"));
        let params = Conv2dParams::default()
            .stride(stride)
            .padding(padding)
            .groups(groups);
        let bias = bias.then(|| self.t1(&format!("{key}.bias")));
        Conv2d::new(weight, bias, params).unwrap()
    }

    /// The batch norm `key`.
    fn bn(&self, key: &str, eps: f32) -> BatchNorm2d {
        let t = |name: &str| self.t1(&format!("{key}.{name}"));
        let (mean, var, weight, bias) =
            (t("running_mean"), t("running_var"), t("weight"), t("bias"));
        BatchNorm2d::new(
            mean.view(),
            var.view(),
            Some(weight.view()),
            Some(bias.view()),
            eps,
        )
        .unwrap()
    }

    /// torchvision's `Conv2dNormActivation` at `key`: `key.0` a convolution without bias,
    /// `key.1` a batch norm, then `activation`.
    fn conv_bn(
        &self,
        key: &str,
        x: &Array4<f32>,
        (stride, groups, eps): (usize, usize, f32),
        activation: Activation,
    ) -> Array4<f32> {
        let mut y = self
            .conv(&format!("{key}.0"), stride, groups, false)
            .forward(x.view())
            .unwrap();
        self.bn(&format!("{key}.1"), eps)
            .forward_in_place(y.view_mut())
            .unwrap();
        activation.apply_in_place(y.view_mut());
        y
    }

    /// torchvision's `SqueezeExcitation` at `key`, in place: the mean of each plane through
    /// `fc1`, `inner`, `fc2` and `gate`, times the planes.
    fn squeeze_excite(&self, key: &str, x: &mut Array4<f32>, inner: Activation, gate: Activation) {
        let pooled = global_avg_pool2d(x.view()).unwrap();
        let fc1 = self
            .conv(&format!("{key}.fc1"), 1, 1, true)
            .with_activation(inner);
        let fc2 = self
            .conv(&format!("{key}.fc2"), 1, 1, true)
            .with_activation(gate);
        let g = fc2
            .forward(fc1.forward(pooled.view()).unwrap().view())
            .unwrap();
        scale_channels_in_place(x.view_mut(), g.view()).unwrap();
    }

    /// An `nn.Linear` at `key` over the channels of an NCHW map, as a 1x1 convolution.
    fn linear_over_channels(&self, key: &str) -> Conv2d {
        let w = self
            .get(&format!("{key}.weight"))
            .into_dimensionality::<Ix2>()
            .unwrap();
        let (out, inp) = w.dim();
        let w = w.into_shape_with_order((out, inp, 1, 1)).unwrap();
        Conv2d::new(
            w,
            Some(self.t1(&format!("{key}.bias"))),
            Conv2dParams::default(),
        )
        .unwrap()
    }
}

/// convnext_tiny `features[0:2]`: the 4x4/4 stem and its LayerNorm2d, then three CNBlocks
/// (depthwise 7x7, layer norm over the channels, Linear 96 -> 384, GELU, Linear 384 -> 96,
/// layer scale, residual).
fn convnext_tiny_head(w: &Weights, x: &Array4<f32>) -> Array4<f32> {
    let stem = w.conv_padded("0.0", 4, 0, 1, true);
    let mut y = stem.forward(x.view()).unwrap();
    LayerNorm2d::new(w.t1("0.1.weight"), w.t1("0.1.bias"), 1e-6)
        .unwrap()
        .forward_in_place(y.view_mut())
        .unwrap();
    for block in 0..3 {
        let key = |k: &str| format!("1.{block}.{k}");
        let mut h = w
            .conv(&key("block.0"), 1, 96, true)
            .forward(y.view())
            .unwrap();
        let norm = LayerNorm2d::new(
            w.t1(&key("block.2.weight")),
            w.t1(&key("block.2.bias")),
            1e-6,
        )
        .unwrap();
        norm.forward_in_place(h.view_mut()).unwrap();
        let up = w
            .linear_over_channels(&key("block.3"))
            .with_activation(Activation::Gelu);
        let h = up.forward(h.view()).unwrap();
        let mut h = w
            .linear_over_channels(&key("block.5"))
            .forward(h.view())
            .unwrap();
        let scale = LayerScale::from_checkpoint(w.get(&key("layer_scale")).view()).unwrap();
        scale.forward_in_place(h.view_mut()).unwrap();
        add_assign(y.view_mut(), h.view()).unwrap();
    }
    y
}

/// efficientnet_b0 `features[0:3]`: the SiLU stem, an MBConv without expansion (depthwise,
/// squeeze-excitation, projection), and two MBConvs with expansion 6, the first of stride 2.
fn efficientnet_b0_head(w: &Weights, x: &Array4<f32>) -> Array4<f32> {
    const EPS: f32 = 1e-5;
    let silu = Activation::Silu;
    let y = w.conv_bn("0", x, (2, 1, EPS), silu);
    let mut h = w.conv_bn("1.0.block.0", &y, (1, 32, EPS), silu);
    w.squeeze_excite("1.0.block.1", &mut h, silu, Activation::Sigmoid);
    let mut y = w.conv_bn("1.0.block.2", &h, (1, 1, EPS), Activation::Identity);
    for (block, stride) in [(0, 2), (1, 1)] {
        let key = |k: &str| format!("2.{block}.block.{k}");
        let h = w.conv_bn(&key("0"), &y, (1, 1, EPS), silu);
        let groups = h.dim().1;
        let mut h = w.conv_bn(&key("1"), &h, (stride, groups, EPS), silu);
        w.squeeze_excite(&key("2"), &mut h, silu, Activation::Sigmoid);
        let out = w.conv_bn(&key("3"), &h, (1, 1, EPS), Activation::Identity);
        y = if stride == 1 {
            add(out.view(), y.view()).unwrap()
        } else {
            out
        };
    }
    y
}

/// mobilenet_v3_small `features[0:4]`: the hard-swish stem, an inverted residual with a
/// squeeze-excitation gated by a hard sigmoid, and two without, the last with a residual.
fn mobilenet_v3_small_head(w: &Weights, x: &Array4<f32>) -> Array4<f32> {
    const EPS: f32 = 1e-3;
    let relu = Activation::Relu;
    let y = w.conv_bn("0", x, (2, 1, EPS), Activation::Hardswish);
    let mut h = w.conv_bn("1.block.0", &y, (2, 16, EPS), relu);
    w.squeeze_excite("1.block.1", &mut h, relu, Activation::Hardsigmoid);
    let mut y = w.conv_bn("1.block.2", &h, (1, 1, EPS), Activation::Identity);
    for (block, stride) in [(2, 2), (3, 1)] {
        let key = |k: &str| format!("{block}.block.{k}");
        let h = w.conv_bn(&key("0"), &y, (1, 1, EPS), relu);
        let groups = h.dim().1;
        let h = w.conv_bn(&key("1"), &h, (stride, groups, EPS), relu);
        let out = w.conv_bn(&key("2"), &h, (1, 1, EPS), Activation::Identity);
        y = if stride == 1 {
            add(out.view(), y.view()).unwrap()
        } else {
            out
        };
    }
    y
}

#[test]
fn convnext_efficientnet_and_mobilenet_heads_composed_from_the_ops_match_pytorch() {
    type Head = fn(&Weights, &Array4<f32>) -> Array4<f32>;
    let heads: [(&str, Head); 3] = [
        ("convnext_tiny_head", convnext_tiny_head),
        ("efficientnet_b0_head", efficientnet_b0_head),
        ("mobilenet_v3_small_head", mobilenet_v3_small_head),
    ];
    let files: Vec<(&str, Head, Vec<u8>)> = heads
        .iter()
        .map(|&(name, head)| {
            let bytes = std::fs::read(golden(&format!("zoo/{name}.safetensors"))).unwrap();
            (name, head, bytes)
        })
        .collect();
    on_each_path(|path| {
        for (name, head, bytes) in &files {
            let weights = Weights(SafeTensors::deserialize(bytes).unwrap());
            let x = weights.t4("input");
            let got = head(&weights, &x).into_dyn();
            let want = weights.get("output");
            assert_eq!(worst_difference(&got, &want), None, "{name} ({path})");
            println!(
                "{name} ({path}): matches PyTorch's output {:?}",
                want.shape()
            );
        }
    });
}
