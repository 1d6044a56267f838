//! `stride::vision` against torchvision: the ImageNet transform of `tests/golden/image/`'s PNG
//! and JPEG, and the decoder's refusals of files that are not images.

mod support;

use std::path::PathBuf;

use ndarray::ArrayD;
use safetensors::SafeTensors;
use stride::vision::{Error, RgbImage, Transform};
use support::{golden, tensor};

/// Our transform of `tests/golden/image/photo.<ext>` and torchvision's tensor of it.
fn both(ext: &str) -> (ArrayD<f32>, ArrayD<f32>) {
    let ours = Transform::imagenet()
        .load(golden(&format!("image/photo.{ext}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(golden("image/photo_preprocessed.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let want = tensor(&file, ext);
    assert_eq!(ours.shape(), want.shape(), "{ext}");
    (ours.into_dyn(), want)
}

/// The largest absolute difference of two tensors (NaN if either holds NaN).
fn largest_difference(got: &ArrayD<f32>, want: &ArrayD<f32>) -> f32 {
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, |m, d| {
            if d.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(d)
            }
        })
}

#[test]
fn png_transform_is_torchvisions_to_the_bit() {
    // PNG decoding is lossless and exact in both, and the resize, crop and normalisation
    // follow PIL and torchvision's arithmetic, so nothing is left to differ.
    let (ours, want) = both("png");
    let largest = largest_difference(&ours, &want);
    println!("photo.png: largest difference from torchvision {largest:e}");
    assert_eq!(largest, 0.0);
}

#[test]
fn jpeg_transform_differs_from_torchvision_only_by_the_decoders_few_levels() {
    // The image crate decodes JPEG with zune-jpeg; PIL with libjpeg-turbo. Their integer IDCTs,
    // chroma upsampling (zune-jpeg rounds between its vertical and horizontal passes) and
    // colour conversions differ: on this 4:2:0 photo the decoded pixels differ by up to 8 levels
    // of 255, and after the antialiased resize (which averages about 1.5x1.5 pixels) by up to
    // 4 over the whole resized image, 3 in the crop. Everything after decoding is exact (the
    // PNG test), so the difference, brought back to levels (`diff * std * 255`), is bounded
    // by those 4 levels.
    let (ours, want) = both("jpg");
    let largest = largest_difference(&ours, &want);
    let std = stride::vision::IMAGENET_STD;
    let mut levels = 0.0f32;
    let mut total = 0.0f64;
    for ((index, &got), &w) in ours.indexed_iter().zip(&want) {
        let level = (got - w).abs() * std[index[1]] * 255.0;
        levels = levels.max(level);
        total += f64::from(level);
    }
    let mean = total / ours.len() as f64;
    println!(
        "photo.jpg: largest difference from torchvision {largest:e} ({levels:.3} levels of 255); \
         mean {mean:.3} levels"
    );
    assert!(levels <= 4.0 + 1e-3, "{levels} levels");
    assert!(largest <= 4.0 / 255.0 / std[1] + 1e-6, "{largest}");
}
