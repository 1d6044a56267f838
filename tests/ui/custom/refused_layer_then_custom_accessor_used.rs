// A network that does not check still has its custom layer's accessor, so the code using it
// adds no error of its own: the refused pool is the only error.
use stride::ndarray::{Array4, ArrayView4};
use stride::runtime::Result;
use stride::{CustomLayer, CustomShape, CustomTensors};

pub struct Blur;

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for Blur {
    const OUTPUT: Result<[usize; 3], &'static str> = Ok([C, H, W]);
}

impl CustomLayer for Blur {
    const KIND: &'static str = "blur";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        Ok(input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(Blur)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        Ok(x.to_owned())
    }
}

stride::network! {
    pub struct Net: [3, 4, 4] {
        blur: custom(Blur),
        pool: max_pool2d(8),
    }
}

fn main() {
    let net = Net::init(0);
    let _blur: &Blur = net.blur();
}
