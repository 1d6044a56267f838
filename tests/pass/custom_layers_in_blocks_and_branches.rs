// Custom layers wherever a layer goes: in a block, with its output channels from the block's
// parameter, in a residual's main path and in concat branches, and in a network that takes any
// size. The shape after each is what the invocation states, checked against the layer's rule.
use stride::ndarray::{Array4, ArrayView4, Axis, concatenate};
use stride::runtime::Result;
use stride::{CustomLayer, CustomShape, CustomTensors};

/// Its input's channels, repeated `K` times.
pub struct Repeat<const K: usize>;

const fn repeated(times: usize, input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    if times == 0 {
        return Err("it repeats its input at least once");
    }
    Ok([input[0] * times, input[1], input[2]])
}

impl<const K: usize, const C: usize, const H: usize, const W: usize> CustomShape<C, H, W>
    for Repeat<K>
{
    const OUTPUT: Result<[usize; 3], &'static str> = repeated(K, [C, H, W]);
}

impl<const K: usize> CustomLayer for Repeat<K> {
    const KIND: &'static str = "repeat";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        repeated(K, input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(Repeat)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let copies = vec![x; K];
        Ok(concatenate(Axis(1), &copies).expect("copies of one shape"))
    }
}

stride::network! {
    block Widen(channels, times = 2) {
        conv: conv2d(channels, kernel = 3, padding = 1),
        repeat: custom(Repeat<2>, channels = channels * times),
    }

    /// Blocks, residuals and concats around custom layers.
    pub struct Around: [3, 16, 16] {
        stem: Widen(8),
        residual {
            same: custom(Repeat<1>),
            conv: conv2d(16, kernel = 1),
        },
        join: concat {
            a: custom(Repeat<1>),
            b: custom(Repeat<3>, channels = 48),
        },
        pool: adaptive_avg_pool2d(1),
    }

    /// Any size: the rule is checked for the channels at compile time.
    pub struct AnySize: [4, H, W] {
        conv: conv2d(4, kernel = 3, stride = 2, padding = 1),
        repeat: custom(Repeat<2>, channels = 8),
    }
}

fn main() {
    assert_eq!(Around::OUTPUT, [64, 1, 1]);
    assert_eq!(AnySize::OUTPUT, [8, 0, 0]);
    let y = Around::init(0).forward(Array4::zeros((1, 3, 16, 16)).view()).unwrap();
    assert_eq!(y.dim(), (1, 64, 1, 1));
}
