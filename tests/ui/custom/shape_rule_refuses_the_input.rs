// ShuffleNet's channel shuffle splits the channels into groups: 5 groups do not divide 24.
use stride::ndarray::{Array4, ArrayView4};
use stride::runtime::Result;
use stride::{CustomLayer, CustomShape, CustomTensors};

pub struct ChannelShuffle<const G: usize>;

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
        Ok(x.to_owned())
    }
}

stride::network! {
    pub struct Unit: [3, 32, 32] {
        conv: conv2d(24, kernel = 1),
        shuffle: custom(ChannelShuffle<5>),
    }
}

fn main() {}
