//! What can go wrong between a file and a tensor.

use std::path::PathBuf;

/// An image that could not be read, decoded or transformed, or a transform or batch that
/// cannot be made. Each message names the image (its path, or "the image bytes") and what
/// was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes are not a PNG or a JPEG (judged by their first bytes, not the file's name).
    #[error("{name} is not a PNG or JPEG image (the formats stride's vision module decodes)")]
    Format {
        /// The image.
        name: String,
    },
    /// The decoder refused the bytes: a corrupt or truncated file.
    #[error("{name}: cannot decode the {format}: {reason}")]
    Decode {
        /// The image.
        name: String,
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The image has no pixels.
    #[error("{name} is {width}x{height}: an image needs at least one pixel")]
    Empty {
        /// The image.
        name: String,
        /// Its width.
        width: u64,
        /// Its height.
        height: u64,
    },
    /// The image is larger than [`MAX_PIXELS`](crate::MAX_PIXELS) or
    /// [`MAX_SIDE`](crate::MAX_SIDE), checked from its header before anything is allocated.
    #[error(
        "{name} is {width}x{height}, larger than the {} pixels (and {} on a side) an image may have here",
        crate::MAX_PIXELS,
        crate::MAX_SIDE
    )]
    TooLarge {
        /// The image.
        name: String,
        /// Its width.
        width: u64,
        /// Its height.
        height: u64,
    },
    /// Pixels given with [`RgbImage::from_raw`](crate::RgbImage::from_raw) whose count does not
    /// match the size.
    #[error("a {width}x{height} RGB image has {expected} bytes (3 a pixel); {got} were given")]
    RawSize {
        /// The width given.
        width: usize,
        /// The height given.
        height: usize,
        /// `width * height * 3`.
        expected: u128,
        /// The bytes given.
        got: usize,
    },
    /// A [`Transform`](crate::Transform) whose sizes or statistics make no sense.
    #[error("transform: {0}")]
    Transform(String),
    /// A batch of no images.
    #[error("a batch needs at least one image; none were given")]
    EmptyBatch,
}
