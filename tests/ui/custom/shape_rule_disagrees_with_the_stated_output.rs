// A layer whose rule doubles the channels, used without saying so: the network would take its
// output to have the input's 16 channels, and every shape after it would be wrong.
use stride::ndarray::{Array4, ArrayView4, concatenate, Axis};
use stride::runtime::Result;
use stride::{CustomLayer, CustomShape, CustomTensors};

pub struct Twice;

const fn twice_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    Ok([input[0] * 2, input[1], input[2]])
}

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for Twice {
    const OUTPUT: Result<[usize; 3], &'static str> = twice_shape([C, H, W]);
}

impl CustomLayer for Twice {
    const KIND: &'static str = "twice";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        twice_shape(input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(Twice)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        Ok(concatenate(Axis(1), &[x, x]).expect("the same shape twice"))
    }
}

stride::network! {
    pub struct Doubled: [3, 32, 32] {
        conv: conv2d(16, kernel = 3, padding = 1),
        twice: custom(Twice),
        head: conv2d(8, kernel = 1),
    }
}

fn main() {}
