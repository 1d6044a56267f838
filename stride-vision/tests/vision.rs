//! `stride::vision` against torchvision: the ImageNet transform of `tests/golden/image/`'s PNG
//! and JPEG, and the decoder's refusals of files that are not images.

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors};
use stride_vision::{Error, RgbImage, Transform};

/// A file of this crate's `tests/golden/`.
fn golden(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file)
}

/// A float32 tensor of a safetensors file, as an array.
fn tensor(file: &SafeTensors, key: &str) -> ArrayD<f32> {
    let view = file.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(view.dtype(), Dtype::F32, "{key}");
    let data = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    ArrayD::from_shape_vec(IxDyn(view.shape()), data).unwrap()
}

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
    // of 255, and after the antialiased resize (a triangle about three pixels wide at this
    // 1.46x downscale, which averages the decoders' differences down) by up to 4 over the
    // whole resized image, 3 in the crop. Everything after decoding is exact (the
    // PNG test), so the difference, brought back to levels (`diff * std * 255`), is bounded
    // by those 4 levels.
    let (ours, want) = both("jpg");
    let largest = largest_difference(&ours, &want);
    let std = stride_vision::IMAGENET_STD;
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

/// The golden photo's bytes.
fn photo(ext: &str) -> Vec<u8> {
    std::fs::read(golden(&format!("image/photo.{ext}"))).unwrap()
}

/// The CRC-32 PNG puts after each chunk (ISO 3309, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header says `width`x`height` (8-bit RGB), with the pixel data of a 1x1 black
/// image: a valid PNG when the size is 1x1, otherwise one that only its header refuses.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let body = [kind, data].concat();
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let header = [
        &width.to_be_bytes()[..],
        &height.to_be_bytes(),
        &[8, 2, 0, 0, 0],
    ]
    .concat();
    chunk(b"IHDR", &header);
    // zlib: header, one stored block of 4 bytes (filter 0, then R, G, B), Adler-32 of them.
    let pixel_data = [0x78, 0x01, 0x01, 4, 0, 0xfb, 0xff, 0, 0, 0, 0, 0, 4, 0, 1];
    chunk(b"IDAT", &pixel_data);
    chunk(b"IEND", &[]);
    png
}

#[test]
fn the_test_png_is_valid_at_its_true_size() {
    // So that the refusals below are the header's size, not a malformed file.
    let image = RgbImage::decode(&png_claiming(1, 1)).unwrap();
    assert_eq!(
        (image.width(), image.height(), image.pixels()),
        (1, 1, &[0, 0, 0][..])
    );
}

#[test]
fn a_truncated_file_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("stride-vision-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["png", "jpg"] {
        let bytes = photo(ext);
        let path = dir.join(format!("truncated.{ext}"));
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let refused = RgbImage::open(&path).unwrap_err();
        let message = refused.to_string();
        println!("{message}");
        assert!(matches!(refused, Error::Decode { .. }), "{message}");
        assert!(message.starts_with(&format!("`{}`: cannot decode the ", path.display())));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_bytes_are_an_error_not_a_panic() {
    // A PNG whose pixel data was changed (its chunk checksum no longer matches), a JPEG whose
    // frame header says it has no colour components, and prefix-and-garbage mixes of both.
    let mut png = photo("png");
    let middle = png.len() / 2;
    png[middle] ^= 0xff;
    let refused = RgbImage::decode(&png).unwrap_err();
    println!("{refused}");
    assert!(matches!(refused, Error::Decode { .. }), "{refused}");
    let mut jpeg = photo("jpg");
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    jpeg[sof + 9] = 0; // SOF0: marker, length, precision, height, width, component count
    let refused = RgbImage::decode(&jpeg).unwrap_err();
    println!("{refused}");
    assert!(matches!(refused, Error::Decode { .. }), "{refused}");
    for ext in ["png", "jpg"] {
        let bytes = photo(ext);
        for cut in (0..bytes.len()).step_by(997) {
            let mut broken = bytes[..cut].to_vec();
            broken.extend((0..64u32).map(|i| (i * 151 % 256) as u8));
            // Any outcome but a panic: a few mixes still decode (garbage in entropy-coded data
            // is not always detectable).
            let _ = RgbImage::decode(&broken);
        }
    }
}

#[test]
fn an_image_of_no_pixels_is_an_error() {
    let refused = RgbImage::decode(&png_claiming(0, 5)).unwrap_err();
    println!("{refused}");
    assert!(
        matches!(refused, Error::Empty { .. } | Error::Decode { .. }),
        "{refused}"
    );
    // A JPEG whose frame header says it is 0 pixels high.
    let mut jpeg = photo("jpg");
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
    let refused = RgbImage::decode(&jpeg).unwrap_err();
    println!("{refused}");
    assert!(
        matches!(refused, Error::Empty { .. } | Error::Decode { .. }),
        "{refused}"
    );
    let refused = RgbImage::from_raw(0, 5, vec![]).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the raw pixels is 0x5: an image needs at least one pixel"
    );
}

#[test]
fn an_absurdly_large_image_is_refused_from_its_header() {
    // 60,000 x 60,000 is 3.6 gigapixels: refused before any pixel is allocated.
    let refused = RgbImage::decode(&png_claiming(60_000, 60_000)).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the image bytes is 60000x60000, larger than the 134217728 pixels (and 65535 on a side) \
         an image may have here"
    );
    // The same claim in the JPEG's frame header (SOF0: marker, length, precision, height,
    // width).
    let mut jpeg = photo("jpg");
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xea, 0x60, 0xea, 0x60]);
    let refused = RgbImage::decode(&jpeg).unwrap_err();
    assert!(
        matches!(
            refused,
            Error::TooLarge {
                width: 60_000,
                height: 60_000,
                ..
            }
        ),
        "{refused}"
    );
}

#[test]
fn a_file_that_is_not_an_image_or_not_there_is_an_error_naming_it() {
    let missing = PathBuf::from("no/such/photo.jpg");
    let refused = RgbImage::open(&missing).unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("cannot read `no/such/photo.jpg`: "),
        "{refused}"
    );
    let refused = RgbImage::decode(b"GIF89a\x01\x00\x01\x00").unwrap_err();
    assert!(matches!(refused, Error::Format { .. }));
}

#[test]
fn a_batch_stacks_each_images_own_transform() {
    let png = RgbImage::open(golden("image/photo.png")).unwrap();
    let jpeg = RgbImage::open(golden("image/photo.jpg")).unwrap();
    let transform = Transform::imagenet();
    let batch = transform.batch([&png, &jpeg, &png]).unwrap();
    assert_eq!(batch.dim(), (3, 3, 224, 224));
    for (i, image) in [&png, &jpeg, &png].into_iter().enumerate() {
        let one = transform.apply(image);
        assert_eq!(batch.slice(ndarray::s![i..i + 1, .., .., ..]), one);
    }
    let loaded = transform
        .load_batch([golden("image/photo.png"), golden("image/photo.jpg")])
        .unwrap();
    assert_eq!(
        loaded.slice(ndarray::s![0..2, .., .., ..]),
        batch.slice(ndarray::s![0..2, .., .., ..])
    );
}
