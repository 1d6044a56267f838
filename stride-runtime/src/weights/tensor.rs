//! One tensor of a weights file, whichever its format: where its bytes are, how its elements
//! are laid out, and how they read as `f32`. The safetensors reader (`mod.rs`) and the `.pth`
//! reader (`pth/`) each build [`Entry`]s; the [`Loader`](super::Loader) reads them all alike.

use std::ops::Range;

use safetensors::Dtype;

/// One tensor of the file, from either format: a strided view of the bytes in `range`
/// (counted from the start of the file). A safetensors tensor is its whole range in C order;
/// a `.pth` tensor may be a transposed or sliced view of a larger storage.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// In elements, one per axis.
    pub strides: Vec<usize>,
    /// Where the view starts in `range`, in elements.
    pub offset: usize,
    pub range: Range<usize>,
}

impl Entry {
    /// A tensor stored whole, in C order, in `range`.
    pub fn contiguous(dtype: Dtype, shape: Vec<usize>, range: Range<usize>) -> Entry {
        Entry {
            dtype,
            strides: contiguous_strides(&shape),
            shape,
            offset: 0,
            range,
        }
    }

    /// The values of this floating-point entry of `file`, in C order of its shape, as `f32`:
    /// decoded from little-endian bytes (the file's data need not be aligned), `F16` and `BF16`
    /// widened exactly, `F64` rounded to nearest as PyTorch's `load_state_dict` rounds it into
    /// an `f32` parameter. A strided view is gathered element by element.
    pub fn f32_values(&self, file: &[u8]) -> Vec<f32> {
        debug_assert!(
            is_float(self.dtype),
            "{:?} is not a float dtype",
            self.dtype
        );
        let bytes = &file[self.range.clone()];
        let width = element_width(self.dtype);
        let decode = |b: &[u8]| -> f32 {
            match self.dtype {
                Dtype::F16 => f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
                Dtype::BF16 => f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
                Dtype::F64 => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as f32,
                _ => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            }
        };
        let count: usize = self.shape.iter().product();
        if count == 0 {
            return Vec::new();
        }
        if self.strides == contiguous_strides(&self.shape) {
            let start = self.offset * width;
            return bytes[start..start + count * width]
                .chunks_exact(width)
                .map(decode)
                .collect();
        }
        // An odometer over the index, in C order, carrying the element offset along.
        let mut values = Vec::with_capacity(count);
        let mut index = vec![0; self.shape.len()];
        let mut at = self.offset;
        for _ in 0..count {
            values.push(decode(&bytes[at * width..(at + 1) * width]));
            for axis in (0..index.len()).rev() {
                index[axis] += 1;
                at += self.strides[axis];
                if index[axis] < self.shape[axis] {
                    break;
                }
                at -= self.strides[axis] * self.shape[axis];
                index[axis] = 0;
            }
        }
        values
    }
}

/// Whether tensors of `dtype` load as `f32`: `F32` itself, and the other float types, which
/// PyTorch's `load_state_dict` converts into an `f32` parameter as well.
pub(super) fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

/// The bytes of one element of `dtype` (every dtype a checkpoint holds is a whole number of
/// bytes wide).
pub(super) fn element_width(dtype: Dtype) -> usize {
    dtype.bitsize().div_ceil(8)
}

/// The strides of a C-ordered array of `shape`, in elements.
fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// An IEEE half-precision value, widened exactly.
fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match (exponent, mantissa) {
        (0, 0) => 0,
        // Subnormal: mantissa × 2^-24, exact in f32.
        (0, m) => (m as f32 * f32::from_bits(0x3380_0000)).to_bits(),
        // Infinity and NaN keep their mantissa.
        (0x1f, m) => 0x7f80_0000 | (m << 13),
        (e, m) => ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(sign | magnitude)
}
