//! Images in, labels out: PNG and JPEG files to the tensors a stride network takes, and its
//! output back to ImageNet's class names. Re-exported by the facade as `stride::vision`
//! (the `vision` feature).
//!
//! - [`RgbImage`] decodes PNG and JPEG with the `image` crate, refusing a corrupt, truncated,
//!   empty or absurdly large file with an [`Error`] that names it.
//! - [`Transform`] is torchvision's preprocessing (`Resize`, `CenterCrop`, `ToTensor`,
//!   `Normalize`) with PIL's arithmetic: on a PNG its tensor is torchvision's to the bit.
//!   [`Transform::imagenet`] is the ImageNet classifiers' one; [`Transform::batch`] stacks
//!   images into one `[N, 3, H, W]` batch.
//! - [`softmax`], [`top_k`] and [`imagenet_classes`] turn a classifier's logits into ranked
//!   names.
//!
//! ```
//! use stride_vision::{RgbImage, Transform, imagenet_classes, softmax, top_k};
//!
//! // An image (here made, usually `RgbImage::open("photo.jpg")?`) to a batch of one.
//! let image = RgbImage::from_raw(320, 240, vec![128; 320 * 240 * 3])?;
//! let x = Transform::imagenet().apply(&image);
//! assert_eq!(x.dim(), (1, 3, 224, 224));
//!
//! // A classifier's output, `[N, 1000]` (here made), to the five likeliest classes.
//! let logits = ndarray::Array2::from_shape_fn((1, 1000), |(_, i)| (i % 7) as f32);
//! let probabilities = softmax(logits.row(0));
//! for (index, p) in top_k(probabilities.view(), 5) {
//!     println!("{:>6.2}%  {}", p * 100.0, imagenet_classes()[index]);
//! }
//! # Ok::<(), stride_vision::Error>(())
//! ```

mod classes;
mod error;
mod image;
mod resample;
mod scores;
mod transform;

pub use classes::imagenet_classes;
pub use error::Error;
pub use image::{MAX_PIXELS, MAX_SIDE, RgbImage};
pub use scores::{softmax, top_k};
pub use transform::{IMAGENET_MEAN, IMAGENET_STD, MAX_TRANSFORM_SIDE, Transform};
