//! Decoded images: 8-bit RGB, row-major.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits};

use crate::Error;
use crate::resample;

/// The most pixels an image may have (`width * height`): 2^27, a 134-megapixel photo, 400 MB
/// as RGB. Checked from the file's header, so a file that claims more is refused before
/// anything is allocated.
pub const MAX_PIXELS: u64 = 1 << 27;

/// The longest side an image may have: JPEG's own limit, 65,535.
pub const MAX_SIDE: u64 = 65_535;

/// An 8-bit RGB image: `height` rows of `width` pixels, three bytes each (red, green, blue),
/// what `PIL.Image.open(path).convert("RGB")` holds.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// Reads and decodes a PNG or JPEG file (the format is read from its first bytes, not its
    /// name).
    ///
    /// Grey, palette and RGBA images become RGB as PIL's `convert("RGB")` makes them (grey
    /// repeated, alpha dropped); 16-bit samples are scaled to 8 bits. The EXIF orientation is
    /// not applied, as neither PIL's `open` nor torchvision applies it.
    ///
    /// # Errors
    /// [`Error::Read`] if the file cannot be read; [`Error::Format`] if it is neither PNG nor
    /// JPEG; [`Error::Decode`] if it is corrupt or truncated; [`Error::Empty`] or
    /// [`Error::TooLarge`] if its header gives no pixels, or more than [`MAX_PIXELS`].
    ///
    /// ```no_run
    /// let image = stride_vision::RgbImage::open("photo.jpg")?;
    /// println!("{}x{}", image.width(), image.height());
    /// # Ok::<(), stride_vision::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<RgbImage, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        decode(&bytes, format!("`{}`", path.display()))
    }

    /// Decodes a PNG or JPEG held in memory, as [`open`](Self::open) decodes a file.
    ///
    /// # Errors
    /// As [`open`](Self::open), naming "the image bytes".
    ///
    /// ```
    /// let refused = stride_vision::RgbImage::decode(b"GIF89a...").unwrap_err();
    /// assert_eq!(
    ///     refused.to_string(),
    ///     "the image bytes is not a PNG or JPEG image (the formats stride's vision module decodes)"
    /// );
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<RgbImage, Error> {
        decode(bytes, "the image bytes".to_owned())
    }

    /// An image from its pixels: `height` rows of `width` pixels, three bytes each.
    ///
    /// # Errors
    /// [`Error::RawSize`] if `pixels` is not `width * height * 3` bytes; [`Error::Empty`] or
    /// [`Error::TooLarge`] as for a decoded image.
    ///
    /// ```
    /// let grey = stride_vision::RgbImage::from_raw(4, 2, vec![128; 4 * 2 * 3])?;
    /// assert_eq!((grey.width(), grey.height()), (4, 2));
    /// assert!(stride_vision::RgbImage::from_raw(4, 2, vec![0; 5]).is_err());
    /// # Ok::<(), stride_vision::Error>(())
    /// ```
    pub fn from_raw(width: usize, height: usize, pixels: Vec<u8>) -> Result<RgbImage, Error> {
        let expected = width as u128 * height as u128 * 3;
        if pixels.len() as u128 != expected {
            return Err(Error::RawSize {
                width,
                height,
                expected,
                got: pixels.len(),
            });
        }
        check_size("the raw pixels", width as u64, height as u64)?;
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// Its width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Its height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Its pixels: rows top to bottom, pixels left to right, red, green, blue.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at row `y`, column `x`, if there is one.
    ///
    /// ```
    /// let image = stride_vision::RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6])?;
    /// assert_eq!(image.pixel(0, 1), Some([4, 5, 6]));
    /// assert_eq!(image.pixel(1, 0), None);
    /// # Ok::<(), stride_vision::Error>(())
    /// ```
    pub fn pixel(&self, y: usize, x: usize) -> Option<[u8; 3]> {
        if y >= self.height || x >= self.width {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// The image resized to `width`x`height` with antialiased bilinear filtering, exactly as
    /// PIL's `Image.resize((width, height), Image.BILINEAR)` does it, byte for byte: the resize
    /// of torchvision's `Resize` on a PIL image.
    ///
    /// # Errors
    /// [`Error::Empty`] or [`Error::TooLarge`] for a size of no pixels or more than
    /// [`MAX_PIXELS`].
    ///
    /// ```
    /// let image = stride_vision::RgbImage::from_raw(4, 2, vec![90; 4 * 2 * 3])?;
    /// let half = image.resize(2, 1)?;
    /// assert_eq!(half.pixels(), &[90; 2 * 1 * 3]);
    /// # Ok::<(), stride_vision::Error>(())
    /// ```
    pub fn resize(&self, width: usize, height: usize) -> Result<RgbImage, Error> {
        check_size("the resized image", width as u64, height as u64)?;
        Ok(RgbImage {
            width,
            height,
            pixels: self.resize_region([height, width], 0..height, 0..width),
        })
    }

    /// Rows `rows` and columns `columns` of the image resized to `size` (`[height, width]`),
    /// computed alone: each is the byte the whole resize would give.
    pub(crate) fn resize_region(
        &self,
        size: [usize; 2],
        rows: std::ops::Range<usize>,
        columns: std::ops::Range<usize>,
    ) -> Vec<u8> {
        resample::resize_region(&self.pixels, [self.height, self.width], size, rows, columns)
    }
}

/// Refuses an image of no pixels, or of more than [`MAX_PIXELS`] or [`MAX_SIDE`].
fn check_size(name: &str, width: u64, height: u64) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::Empty {
            name: name.to_owned(),
            width,
            height,
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS {
        return Err(Error::TooLarge {
            name: name.to_owned(),
            width,
            height,
        });
    }
    Ok(())
}

/// Decodes `bytes`, naming the image `name` in errors: its size from the header first, checked,
/// then the pixels, with the image crate's allocation limit as a second guard.
fn decode(bytes: &[u8], name: String) -> Result<RgbImage, Error> {
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
        _ => return Err(Error::Format { name }),
    };
    let format_name = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    let refused = |e: image::ImageError| Error::Decode {
        name: name.clone(),
        format: format_name,
        reason: e.to_string(),
    };
    if format == ImageFormat::Jpeg && !jpeg_reaches_its_end(bytes) {
        return Err(Error::Decode {
            name,
            format: format_name,
            reason: "the data ends before the end-of-image marker: the file is truncated".into(),
        });
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(refused)?;
    check_size(&name, width.into(), height.into())?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // Eight bytes a pixel: 16-bit RGBA, the widest a PNG decodes to.
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let decoded = reader.decode().map_err(refused)?.into_rgb8();
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    Ok(RgbImage {
        width,
        height,
        pixels: decoded.into_raw(),
    })
}

/// Whether a JPEG's segments run on to its end-of-image marker (`FF D9`), walking them from
/// the start: each marker segment by its length, each scan's entropy-coded data up to the next
/// marker (in which `FF` is followed only by a stuffed `00` or a restart marker).
///
/// zune-jpeg, the image crate's JPEG decoder, fills the rest of a truncated scan with grey and
/// succeeds, where PIL refuses the file ("image file is truncated"); this check refuses it.
/// Bytes after the marker (a camera's trailer) are not read.
fn jpeg_reaches_its_end(bytes: &[u8]) -> bool {
    const END: u8 = 0xD9;
    const SCAN: u8 = 0xDA;
    let is_marker = |b: u8| b != 0x00 && b != 0xFF && !(0xD0..=0xD7).contains(&b);
    let mut i = 2; // past the start-of-image marker
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            i += 1; // stray bytes between segments, which decoders skip
            continue;
        }
        match bytes[i + 1] {
            END => return true,
            // A fill byte, or a marker with no length (TEM, RSTn).
            0xFF | 0x00 | 0x01 | 0xD0..=0xD7 => i += 1,
            marker => {
                let Some(length) = bytes.get(i + 2..i + 4) else {
                    return false;
                };
                i += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
                if marker == SCAN {
                    while i + 1 < bytes.len() && !(bytes[i] == 0xFF && is_marker(bytes[i + 1])) {
                        i += 1;
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::jpeg_reaches_its_end;

    #[test]
    fn a_jpeg_is_complete_only_with_its_end_marker_after_the_last_scan() {
        // SOI, a 4-byte APP0, a scan whose header is 3 bytes, entropy data with a stuffed FF
        // and a restart marker, then EOI.
        let whole = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xDA, 0x00, 0x03, 0x01, 0x12,
            0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        assert!(jpeg_reaches_its_end(&whole));
        for cut in 0..whole.len() - 1 {
            assert!(!jpeg_reaches_its_end(&whole[..cut]), "cut at {cut}");
        }
        // An FF D9 inside a segment's data is not the end.
        let inside = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 0xFF, 0xD9];
        assert!(!jpeg_reaches_its_end(&inside));
    }
}
