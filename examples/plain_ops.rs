//! The ResNet stem written with the runtime's ops and layers directly, without `network!`:
//! what the macro saves you from writing, and the baseline for the README's build times.
//!
//! ```text
//! cargo run --release --example plain_ops
//! ```

use stride::ndarray::{Array1, Array4};
use stride::runtime::ops::{BatchNorm2d, Conv2d, Conv2dParams, MaxPool2dParams, max_pool2d, relu};

fn main() -> Result<(), stride::runtime::Error> {
    let conv = Conv2d::new(
        Array4::from_elem((64, 3, 7, 7), 0.01),
        None,
        Conv2dParams::default().stride(2).padding(3),
    )?;
    let (ones, zeros) = (Array1::<f32>::ones(64), Array1::<f32>::zeros(64));
    let bn = BatchNorm2d::new(
        zeros.view(),
        ones.view(),
        Some(ones.view()),
        Some(zeros.view()),
        1e-5,
    )?;
    let pool = MaxPool2dParams::new(3).stride(2).padding(1);

    let x = Array4::<f32>::from_elem((1, 3, 224, 224), 1.0);
    let y = conv.forward(x.view())?;
    let y = bn.forward(y.view())?;
    let y = relu(y.view())?;
    let y = max_pool2d(y.view(), &pool)?;
    println!(
        "output {:?}, mean {:.4}",
        y.shape(),
        y.mean().unwrap_or(0.0)
    );
    Ok(())
}
