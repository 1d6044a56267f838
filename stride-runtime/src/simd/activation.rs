//! An activation as a value a layer carries, and the forms in which kernels apply it as they
//! write their outputs: one value ([`Activation::apply`]), a slice (`apply_to_slice`) and 8
//! lanes of an AVX2 register (`avx2::apply`). The activations over whole arrays
//! (`ops::relu`, …, [`Activation::map`]) are ops, in `ops/activation.rs`.

/// An elementwise activation, as a value a layer can carry and fuse.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `x`.
    #[default]
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x` for `x >= 0`, else `slope * x` (PyTorch's default slope is 0.01).
    LeakyRelu(f32),
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `x * sigmoid(x)` (also called swish).
    Silu,
}

impl Activation {
    /// The activation of one value.
    ///
    /// ```
    /// use stride_runtime::ops::Activation;
    /// assert_eq!(Activation::Relu6.apply(7.5), 6.0);
    /// ```
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::LeakyRelu(slope) => {
                if x >= 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Sigmoid => logistic(x),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x * logistic(x),
        }
    }

    /// Applies the activation to every value of a slice, in place: one loop per activation,
    /// which the compiler vectorizes where it can, for kernels that finish a row at a time.
    pub(crate) fn apply_to_slice(self, xs: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => xs.iter_mut().for_each(|x| *x = Activation::Relu.apply(*x)),
            Activation::Relu6 => xs.iter_mut().for_each(|x| *x = Activation::Relu6.apply(*x)),
            other => xs.iter_mut().for_each(|x| *x = other.apply(*x)),
        }
    }
}

/// The activations with a vector form, 8 lanes at a time, for the AVX2 kernels that finish
/// their outputs in registers.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use core::arch::x86_64::*;

    use super::Activation;

    /// Whether [`apply`] computes `activation`: every one but the transcendental ones, which
    /// the kernels apply value by value with [`Activation::apply`].
    pub(crate) fn has_vector_form(activation: Activation) -> bool {
        !matches!(
            activation,
            Activation::Sigmoid | Activation::Tanh | Activation::Silu
        )
    }

    /// The activation of each lane, the value [`Activation::apply`] gives for any number;
    /// `v` unchanged for an activation without a vector form.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn apply(activation: Activation, v: __m256) -> __m256 {
        let zero = _mm256_setzero_ps();
        match activation {
            // max(v, 0) returns the second operand for NaN, as `f32::max` does.
            Activation::Relu => _mm256_max_ps(v, zero),
            Activation::Relu6 => _mm256_min_ps(_mm256_max_ps(v, zero), _mm256_set1_ps(6.0)),
            Activation::LeakyRelu(slope) => {
                // NaN compares false, so it takes the `v` side, as `apply` does.
                let negative = _mm256_cmp_ps::<_CMP_LT_OQ>(v, zero);
                _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(slope)), negative)
            }
            Activation::Identity | Activation::Sigmoid | Activation::Tanh | Activation::Silu => v,
        }
    }
}

/// `1 / (1 + exp(-x))`, written so that neither branch overflows.
#[inline]
fn logistic(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_match_their_definitions_at_hand_checked_points() {
        assert_eq!(Activation::Relu6.apply(6.5), 6.0);
        assert_eq!(Activation::LeakyRelu(0.01).apply(-100.0), -1.0);
        assert!((Activation::Sigmoid.apply(2.0) - 0.880_797).abs() < 1e-6);
        assert!((Activation::Silu.apply(-1.0) - -0.268_941_42).abs() < 1e-6);
        assert!((Activation::Tanh.apply(1.0) - 0.761_594_2).abs() < 1e-6);
    }

    #[test]
    fn sigmoid_does_not_overflow_at_the_extremes() {
        assert_eq!(Activation::Sigmoid.apply(-1000.0), 0.0);
        assert_eq!(Activation::Sigmoid.apply(1000.0), 1.0);
        assert_eq!(Activation::Silu.apply(-1000.0), -0.0);
    }
}
