//! An activation as a value a layer carries, and the forms in which kernels apply it as they
//! write their outputs: one value ([`Activation::apply`]), a slice (`apply_to_slice`, in
//! place, and `map_slice_on`, into another), 8 lanes of an AVX2 register (`avx2::apply`) and
//! 16 of an AVX-512 one (`avx512::apply`).
//! The activations over whole arrays (`ops::relu`, …, [`Activation::map`]) are ops, in
//! `ops/activation.rs`; the functions the smooth ones are made of (`exp`, `erf`, …) are in
//! `math.rs`.
//!
//! Every form gives PyTorch's value for every input, NaN and the infinities included
//! (`tests/golden/nan/`): NaN stays NaN (`relu(NaN)` too, unlike `f32::max`), and an infinity
//! times a zero gate is NaN, as `silu(-inf)`, `hardswish(-inf)` and `gelu(-inf)` are in
//! PyTorch.

use core::mem::MaybeUninit;

use super::Isa;
use super::math::normal_cdf;

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
    /// `x * Φ(x) = 0.5 * x * (1 + erf(x / √2))`: PyTorch's `gelu` (`approximate='none'`), the
    /// one ConvNeXt and ViT use.
    Gelu,
    /// `0.5 * x * (1 + tanh(√(2/π) * (x + 0.044715 * x³)))`: PyTorch's
    /// `gelu(approximate='tanh')`.
    GeluTanh,
    /// `x * relu6(x + 3) / 6` (MobileNetV3).
    Hardswish,
    /// `relu6(x + 3) / 6` (MobileNetV3's squeeze-excitation gate).
    Hardsigmoid,
}

/// `√(2/π)`, the scale inside [`Activation::GeluTanh`]'s `tanh`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// The cubic coefficient of [`Activation::GeluTanh`].
const GELU_TANH_CUBIC: f32 = 0.044_715;

impl Activation {
    /// The name of the op that applies it alone, as errors give it: `relu`, `leaky_relu`, …
    ///
    /// ```
    /// use stride_runtime::ops::Activation;
    /// assert_eq!(Activation::LeakyRelu(0.1).name(), "leaky_relu");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Hardswish => "hardswish",
            Activation::Hardsigmoid => "hardsigmoid",
        }
    }

    /// Whether the activation is one of the cheap forms: the identity, ReLU, ReLU6, leaky
    /// ReLU, hard swish and hard sigmoid, a few vector instructions each, with no constant
    /// but 0, 3, 6, 1/6 and the slope (the vector forms' `apply_cheap`). The others (sigmoid,
    /// tanh, SiLU and the GELUs) are polynomials whose constants fill a dozen registers.
    pub(crate) fn is_cheap(self) -> bool {
        matches!(
            self,
            Activation::Identity
                | Activation::Relu
                | Activation::Relu6
                | Activation::LeakyRelu(_)
                | Activation::Hardswish
                | Activation::Hardsigmoid
        )
    }

    /// The activation of one value.
    ///
    /// ```
    /// use stride_runtime::ops::Activation;
    /// assert_eq!(Activation::Relu6.apply(7.5), 6.0);
    /// assert_eq!(Activation::Hardswish.apply(1.0), 1.0 * 4.0 / 6.0);
    /// assert!(Activation::Relu.apply(f32::NAN).is_nan());
    /// ```
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            // NaN compares false and passes, as in PyTorch (`f32::max` would give 0).
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Relu6 => relu6(x),
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
            Activation::Gelu => x * normal_cdf(x),
            // 1 + tanh(u) = 2 * sigmoid(2u), which does not cancel for negative x.
            Activation::GeluTanh => {
                x * logistic(2.0 * SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x))
            }
            Activation::Hardswish => x * relu6(x + 3.0) / 6.0,
            Activation::Hardsigmoid => relu6(x + 3.0) / 6.0,
        }
    }

    /// Applies the activation to every value of a slice, in place, on the instruction set
    /// [`Isa::detect`] chooses: for kernels that finish a row at a time and do not carry an
    /// [`Isa`].
    pub(crate) fn apply_to_slice(self, xs: &mut [f32]) {
        self.apply_to_slice_on(Isa::detect(), xs);
    }

    /// Applies the activation to every value of a slice, in place, on `isa`: 16 lanes at a
    /// time with AVX-512, 8 with AVX2, value by value otherwise.
    pub(crate) fn apply_to_slice_on(self, isa: Isa, xs: &mut [f32]) {
        if self == Activation::Identity {
            return;
        }
        let len = xs.len();
        let p = xs.as_mut_ptr();
        // SAFETY: `p` is `len` values, read and written in place, which `map_raw` allows.
        unsafe { self.map_raw(isa, p, p, len) };
    }

    /// Writes the activation of every value of `src` into `dst`, of the same length, on
    /// `isa`: what an op that returns a new array does, in one pass over memory. `dst` may be
    /// uninitialised.
    pub(crate) fn map_slice_on(self, isa: Isa, src: &[f32], dst: &mut [MaybeUninit<f32>]) {
        assert_eq!(src.len(), dst.len(), "map_slice_on: lengths differ");
        if self == Activation::Identity {
            // SAFETY: `f32` and `MaybeUninit<f32>` have the same layout.
            dst.copy_from_slice(unsafe { &*(src as *const [f32] as *const [MaybeUninit<f32>]) });
            return;
        }
        // SAFETY: `src` and `dst` are `src.len()` values each, and disjoint (one is borrowed
        // shared, the other exclusively).
        unsafe { self.map_raw(isa, src.as_ptr(), dst.as_mut_ptr().cast(), src.len()) };
    }

    /// `dst[i] = activation(src[i])` for `i < len`, on `isa`.
    ///
    /// # Safety
    /// `src` points at `len` readable values and `dst` at `len` writable ones (which may be
    /// uninitialised): the same ones, or disjoint.
    unsafe fn map_raw(self, isa: Isa, src: *const f32, dst: *mut f32, len: usize) {
        match isa {
            // SAFETY: the token proves the CPU has AVX2 and FMA; the pointers are as the
            // caller promised.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => unsafe { avx2::map(self, src, dst, len) },
            // SAFETY: the token proves the CPU has AVX-512F, AVX2 and FMA; the pointers are
            // as the caller promised.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => unsafe { avx512::map(self, src, dst, len) },
            // SAFETY: as the caller promised.
            Isa::Scalar => unsafe { scalar_map(self, src, dst, len) },
        }
    }
}

/// `Activation::map_raw` value by value: one loop per activation, each with its activation
/// known to the compiler, which vectorises the simple ones.
///
/// # Safety
/// As `Activation::map_raw`.
unsafe fn scalar_map(activation: Activation, src: *const f32, dst: *mut f32, len: usize) {
    /// `dst[i] = f(src[i])` for `i < len`.
    ///
    /// # Safety
    /// As `Activation::map_raw`.
    unsafe fn each(src: *const f32, dst: *mut f32, len: usize, f: impl Fn(f32) -> f32) {
        for i in 0..len {
            // SAFETY: `i < len`, as the caller promised; each value is read before it is
            // written, and through pointers only, so `dst == src` and an uninitialised `dst`
            // are both fine.
            unsafe { dst.add(i).write(f(src.add(i).read())) };
        }
    }
    // SAFETY (every arm): as the caller promised.
    match activation {
        Activation::Relu => unsafe { each(src, dst, len, |x| Activation::Relu.apply(x)) },
        Activation::Relu6 => unsafe { each(src, dst, len, relu6) },
        Activation::Hardswish => unsafe { each(src, dst, len, |x| Activation::Hardswish.apply(x)) },
        Activation::Hardsigmoid => unsafe {
            each(src, dst, len, |x| Activation::Hardsigmoid.apply(x))
        },
        other => unsafe { each(src, dst, len, |x| other.apply(x)) },
    }
}

/// `min(max(x, 0), 6)`, NaN for NaN (`f32::clamp` keeps NaN).
#[inline]
fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

/// `1 / (1 + exp(-x))`, written so that neither branch overflows; 0 below
/// `-LOGISTIC_FLUSH`, as the vector form gives.
#[inline]
fn logistic(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else if x < -super::math::LOGISTIC_FLUSH {
        0.0
    } else {
        // NaN comes here and stays NaN.
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `$each!(a)` in a `match` on `$activation`, with `a` the arm's activation written out, so
/// that a loop in `$each` knows its activation at compile time and no match runs per register.
macro_rules! per_activation {
    ($activation:expr, $each:ident) => {
        match $activation {
            Activation::Identity => $each!(Activation::Identity),
            Activation::Relu => $each!(Activation::Relu),
            Activation::Relu6 => $each!(Activation::Relu6),
            Activation::LeakyRelu(s) => $each!(Activation::LeakyRelu(s)),
            Activation::Sigmoid => $each!(Activation::Sigmoid),
            Activation::Tanh => $each!(Activation::Tanh),
            Activation::Silu => $each!(Activation::Silu),
            Activation::Gelu => $each!(Activation::Gelu),
            Activation::GeluTanh => $each!(Activation::GeluTanh),
            Activation::Hardswish => $each!(Activation::Hardswish),
            Activation::Hardsigmoid => $each!(Activation::Hardsigmoid),
        }
    };
}

/// The vector forms of every activation, written once in the lane operations of
/// `super::lanes` and compiled for each register width by the module the macro is expanded in
/// (`$features` names its instruction sets), with the math of the same width: `apply` for the
/// kernels that finish their outputs in registers, `map` for a slice.
macro_rules! vector_forms {
    ($features:literal) => {
        /// The activation of each lane: the value [`Activation::apply`] gives for any
        /// number, to within a few `f32` ulps for the smooth ones (exactly for the others),
        /// and the same value at either register width.
        ///
        /// It inlines whole, the smooth forms' constants with it, which LLVM hoists to the
        /// start of the caller: call it where a tile leaves its kernel, not inside the loop
        /// that holds the accumulators (in the grouped convolution's FMA body it took their
        /// registers, 0.19 -> 0.47 ms on `grouped3x3_g32_512_14`). An outlined call instead
        /// spills every vector register around it, which took EfficientNet-B0's forward
        /// from 6.2 to 8.3 ms through its GEMM epilogues (one run each of `cargo bench --bench
        /// networks -- --net efficientnet_b0 --batch 1 --threads 1`).
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn apply(activation: Activation, v: V) -> V {
            match activation {
                Activation::Identity
                | Activation::Relu
                | Activation::Relu6
                | Activation::LeakyRelu(_)
                | Activation::Hardswish
                | Activation::Hardsigmoid => apply_cheap(activation, v),
                Activation::Sigmoid => math::logistic(v),
                Activation::Tanh => math::tanh(v),
                Activation::Silu => mul(v, math::logistic(v)),
                Activation::Gelu => mul(v, math::normal_cdf(v)),
                Activation::GeluTanh => {
                    // 2√(2/π) * (x + c x³) = x * (2√(2/π) + 2√(2/π) c * x²)
                    let scale = 2.0 * SQRT_2_OVER_PI;
                    let inner = fmadd(mul(v, v), splat(scale * GELU_TANH_CUBIC), splat(scale));
                    mul(v, math::logistic(mul(v, inner)))
                }
            }
        }

        /// [`apply`] of the activations that [`Activation::is_cheap`] names (`v` itself for any
        /// other, which the caller must not pass): a few instructions whose only constants are 0, 3, 6, 1/6 and a
        /// slope, so that a kernel can inline it where it still holds its accumulators
        /// without the smooth forms' constants taking their registers. The values are
        /// [`apply`]'s, bit for bit (it is what `apply` runs for these).
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn apply_cheap(activation: Activation, v: V) -> V {
            debug_assert!(activation.is_cheap(), "{activation:?} is not a cheap form");
            let zero = splat(0.0);
            match activation {
                // `max` and `min` return their second operand when either is NaN: `v` goes
                // second, so NaN passes, as in `apply`.
                Activation::Relu => max(zero, v),
                Activation::Relu6 => relu6(v),
                // NaN compares false and takes the `v` side, as `apply` does.
                Activation::LeakyRelu(slope) => select(less(v, zero), mul(v, splat(slope)), v),
                Activation::Hardswish => mul(mul(v, relu6(shift_by_3(v))), sixth()),
                Activation::Hardsigmoid => mul(relu6(shift_by_3(v)), sixth()),
                _ => v,
            }
        }

        /// `activation` of `rows` rows of `cols` values each (a multiple of `LANES`), `stride`
        /// values apart from `c`, in place: for a kernel's epilogue with a smooth
        /// activation, which stores its tile and then calls this once, rather than [`apply`]
        /// per register where LLVM leaves it out of line (a call per register, the smooth
        /// forms' constants loaded in each; see `gemm/avx2.rs`). The values are [`apply`]'s.
        ///
        /// # Safety
        /// The `rows` rows of `cols` values are live, unshared and writable; the CPU has the
        /// instruction sets of `$features`.
        // The AVX-512 GEMM still calls `apply` per register (this change was measured on
        // AVX2 only), so its copy of this function is unused outside the tests.
        #[allow(dead_code)]
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn map_rows(
            activation: Activation,
            c: *mut f32,
            rows: usize,
            cols: usize,
            stride: usize,
        ) {
            debug_assert!(cols % LANES == 0);
            // One loop per activation, as in [`map`].
            macro_rules! each {
                ($a:expr) => {
                    for i in 0..rows {
                        for j in (0..cols).step_by(LANES) {
                            // SAFETY: value `j` of row `i`, inside the caller's rows.
                            unsafe {
                                let at = c.add(i * stride + j);
                                store(at, apply($a, load(at)));
                            }
                        }
                    }
                };
            }
            per_activation!(activation, each)
        }

        /// `dst[i] = activation(src[i])` for `i < len`: whole registers, then the last few
        /// values through a register-sized buffer, so every value gets the vector form.
        ///
        /// # Safety
        /// As `Activation::map_raw`; the CPU has the instruction sets of `$features`.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn map(
            activation: Activation,
            src: *const f32,
            dst: *mut f32,
            len: usize,
        ) {
            // One loop per activation, each with its activation known to the compiler, so no
            // match runs per register.
            macro_rules! each {
                ($a:expr) => {
                    // SAFETY: as the caller promised.
                    unsafe { each(src, dst, len, |v| apply($a, v)) }
                };
            }
            per_activation!(activation, each)
        }

        /// `dst[i] = f(src[i])` for `i < len`, a register at a time.
        ///
        /// # Safety
        /// As [`map`].
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn each(src: *const f32, dst: *mut f32, len: usize, f: impl Fn(V) -> V) {
            let whole = len - len % LANES;
            for i in (0..whole).step_by(LANES) {
                // SAFETY: values `i .. i + LANES <= len`, read before written.
                unsafe { store(dst.add(i), f(load(src.add(i)))) };
            }
            let rest = len - whole;
            if rest > 0 {
                let mut buffer = [0.0f32; LANES];
                // SAFETY: values `whole .. len`, into and out of a buffer of `LANES`.
                unsafe {
                    core::ptr::copy_nonoverlapping(src.add(whole), buffer.as_mut_ptr(), rest);
                    store(buffer.as_mut_ptr(), f(load(buffer.as_ptr())));
                    core::ptr::copy_nonoverlapping(buffer.as_ptr(), dst.add(whole), rest);
                }
            }
        }

        /// `min(max(v, 0), 6)`, NaN for NaN.
        #[target_feature(enable = $features)]
        #[inline]
        fn relu6(v: V) -> V {
            min(splat(6.0), max(splat(0.0), v))
        }

        /// `v + 3`.
        #[target_feature(enable = $features)]
        #[inline]
        fn shift_by_3(v: V) -> V {
            add(v, splat(3.0))
        }

        /// `1/6` in every lane (multiplying by it is within an ulp of PyTorch's `/ 6`).
        #[target_feature(enable = $features)]
        #[inline]
        fn sixth() -> V {
            splat(1.0 / 6.0)
        }
    };
}

/// The activations on 8 lanes of an AVX2 register.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::super::lanes::avx2::*;
    use super::super::math::avx2 as math;
    use super::{Activation, GELU_TANH_CUBIC, SQRT_2_OVER_PI};

    vector_forms!("avx2,fma");
}

/// The activations on 16 lanes of an AVX-512 register, lane for lane the AVX2 forms' values:
/// for the AVX-512 kernels' epilogues, and slices on a CPU with AVX-512. (Before these, the
/// 16-lane form ran each half of the register through the AVX2 form, a call per register:
/// MobileNetV2's 16 -> 96 expansion with ReLU6 took 0.85 ms of a batch-1 forward on one
/// thread of a Zen 5, 0.49 ms with them; measured with `cargo bench --bench
/// networks -- --net mobilenet_v2 --batch 1 --threads 1 --profile`.)
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use super::super::lanes::avx512::*;
    use super::super::math::avx512 as math;
    use super::{Activation, GELU_TANH_CUBIC, SQRT_2_OVER_PI};

    vector_forms!("avx512f,avx2,fma");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::EVERY_ACTIVATION;

    #[test]
    fn activations_match_their_definitions_at_hand_checked_points() {
        assert_eq!(Activation::Relu6.apply(6.5), 6.0);
        assert_eq!(Activation::LeakyRelu(0.01).apply(-100.0), -1.0);
        assert!((Activation::Sigmoid.apply(2.0) - 0.880_797).abs() < 1e-6);
        assert!((Activation::Silu.apply(-1.0) - -0.268_941_42).abs() < 1e-6);
        assert!((Activation::Tanh.apply(1.0) - 0.761_594_2).abs() < 1e-6);
        // gelu(1) = Φ(1) = 0.841_344_746; gelu(-1) = -Φ(-1) = -0.158_655_254.
        assert!((Activation::Gelu.apply(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((Activation::Gelu.apply(-1.0) - -0.158_655_3).abs() < 1e-6);
        // 0.5 * (1 + tanh(√(2/π) * 1.044715)) = 0.841_191_97.
        assert!((Activation::GeluTanh.apply(1.0) - 0.841_192).abs() < 1e-6);
        assert_eq!(Activation::Hardswish.apply(-3.0), 0.0);
        assert_eq!(Activation::Hardswish.apply(3.0), 3.0);
        assert_eq!(Activation::Hardswish.apply(-1.5), -1.5 * 1.5 / 6.0);
        assert_eq!(Activation::Hardsigmoid.apply(0.0), 0.5);
        assert_eq!(Activation::Hardsigmoid.apply(3.0), 1.0);
        assert_eq!(Activation::Hardsigmoid.apply(-4.0), 0.0);
    }

    #[test]
    fn sigmoid_does_not_overflow_at_the_extremes() {
        assert_eq!(Activation::Sigmoid.apply(-1000.0), 0.0);
        assert_eq!(Activation::Sigmoid.apply(1000.0), 1.0);
        assert_eq!(Activation::Silu.apply(-1000.0), -0.0);
        assert_eq!(Activation::GeluTanh.apply(-1000.0), -0.0);
        assert_eq!(Activation::Gelu.apply(-1000.0), -0.0);
    }

    #[test]
    fn nan_stays_nan_and_an_infinity_times_a_zero_gate_is_nan_as_in_pytorch() {
        for activation in EVERY_ACTIVATION {
            assert!(activation.apply(f32::NAN).is_nan(), "{activation:?}");
        }
        for activation in [
            Activation::Silu,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Hardswish,
        ] {
            assert!(
                activation.apply(f32::NEG_INFINITY).is_nan(),
                "{activation:?}"
            );
            assert_eq!(activation.apply(f32::INFINITY), f32::INFINITY);
        }
        assert_eq!(Activation::Relu.apply(f32::NEG_INFINITY), 0.0);
        assert_eq!(Activation::Relu6.apply(f32::INFINITY), 6.0);
        assert_eq!(Activation::Hardsigmoid.apply(f32::INFINITY), 1.0);
    }

    #[test]
    fn gelu_is_within_a_few_ulps_of_an_f64_reference() {
        use crate::simd::math::tests::{normal_cdf_f64, sweep};
        let mut worst = 0.0f64;
        for x in sweep(10.0, 1.0 / 1024.0) {
            let want = x as f64 * normal_cdf_f64(x as f64);
            let got = Activation::Gelu.apply(x) as f64;
            // Past x = -6.3, Φ is taken as 0: gelu is below 1e-9 there. Subnormal results
            // are counted in absolute terms.
            let error = (got - want).abs();
            if error > 1e-8 * x.abs() as f64 + 1e-44 {
                worst = worst.max(error / want.abs());
            }
        }
        println!("scalar gelu: max relative error {worst:.2e}");
        assert!(worst < 1.5e-6, "relative {worst:e}");
    }

    /// The vector form of every activation against its scalar form, on every value of a
    /// dense sweep over [-120, 120], tiny and subnormal magnitudes, the infinities and NaN:
    /// within 4 ulps of the scalar value (relative 5e-7) or 1e-30 absolute. The two GELUs are
    /// allowed besides what their forms' different roundings of an exponent make in their
    /// lower tails: for `Gelu` one ulp of `x^2 / 2` (from which `Φ`'s `erfc` is taken; its
    /// polynomial part is evaluated with and without fused multiply-adds), relative
    /// `x^2 / 2 * 2 * f32::EPSILON`; for `GeluTanh`, what a relative error of `e` in its inner
    /// argument `u` makes in `sigmoid(2u)`, `|2u| * e`: the forms round `u` about five times
    /// each, in different orders, so `e = 6 * f32::EPSILON` covers both.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_forms_match_the_scalar_forms_over_a_dense_sweep() {
        use crate::simd::math::tests::sweep;
        let Some(isa) = Isa::avx2() else {
            return;
        };
        let mut xs = sweep(120.0, 1.0 / 512.0);
        xs.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        xs.extend([f32::MAX, f32::MIN, f32::MIN_POSITIVE, -f32::MIN_POSITIVE]);
        for activation in EVERY_ACTIVATION {
            let mut got = xs.clone();
            activation.apply_to_slice_on(isa, &mut got);
            let mut worst = 0.0f64;
            for (&x, &g) in xs.iter().zip(&got) {
                let want = activation.apply(x);
                if want.is_nan() || g.is_nan() {
                    assert!(
                        want.is_nan() && g.is_nan(),
                        "{activation:?}({x}): {g} vs {want}"
                    );
                    continue;
                }
                if want.is_infinite() || g.is_infinite() {
                    assert_eq!(g, want, "{activation:?}({x})");
                    continue;
                }
                let error = (g as f64 - want as f64).abs();
                let conditioning = match activation {
                    Activation::Gelu => f64::from(x * x) * f64::from(f32::EPSILON),
                    Activation::GeluTanh => {
                        let u = 2.0 * SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x);
                        f64::from(u.abs()) * 6.0 * f64::from(f32::EPSILON)
                    }
                    _ => 0.0,
                };
                if error > 1e-30 {
                    worst = worst.max(error / (want as f64).abs() - conditioning);
                }
            }
            println!("{activation:?}: vector vs scalar, max relative difference {worst:.2e}");
            assert!(worst < 5e-7, "{activation:?}: relative {worst:e}");
        }
    }

    /// `map_rows` over rows of a wider matrix gives each value `apply`'s bits and leaves the
    /// values between the rows alone.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn map_rows_gives_applys_values_on_the_rows_it_is_given() {
        use core::arch::x86_64::*;
        let Some(_) = Isa::avx2() else {
            return;
        };
        let (rows, cols, stride) = (5, 32, 40);
        let xs: Vec<f32> = (0..rows * stride)
            .map(|i| (i as f32 * 0.731).sin() * 9.0)
            .collect();
        for activation in EVERY_ACTIVATION {
            let mut got = xs.clone();
            let mut want = xs.clone();
            // SAFETY: `Isa::avx2` found AVX2 and FMA; the rows lie inside `got`, and each
            // load and store below covers 8 values of `want` at a multiple of 8.
            unsafe {
                avx2::map_rows(activation, got.as_mut_ptr(), rows, cols, stride);
                for i in 0..rows {
                    for j in (0..cols).step_by(8) {
                        let at = want.as_mut_ptr().add(i * stride + j);
                        _mm256_storeu_ps(at, avx2::apply(activation, _mm256_loadu_ps(at)));
                    }
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{activation:?}");
            if Isa::avx512().is_some() {
                let mut wide = xs.clone();
                // SAFETY: `Isa::avx512` found AVX-512F; the rows lie inside `wide`.
                unsafe { avx512::map_rows(activation, wide.as_mut_ptr(), rows, cols, stride) };
                assert_eq!(bits(&wide), bits(&want), "{activation:?} on 16 lanes");
            }
        }
    }

    #[test]
    fn the_scalar_path_of_apply_to_slice_is_apply() {
        let xs: Vec<f32> = (-50..50).map(|i| i as f32 * 0.37).collect();
        for activation in EVERY_ACTIVATION {
            let mut got = xs.clone();
            activation.apply_to_slice_on(Isa::Scalar, &mut got);
            let want: Vec<f32> = xs.iter().map(|&x| activation.apply(x)).collect();
            assert_eq!(got, want, "{activation:?}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_16_lane_form_gives_the_8_lane_forms_bits_in_every_lane() {
        use core::arch::x86_64::*;
        if Isa::avx512().is_none() {
            return;
        }
        let mut xs = crate::simd::math::tests::sweep(120.0, 1.0 / 64.0);
        xs.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        xs.resize(xs.len().next_multiple_of(16), 0.5);
        for activation in EVERY_ACTIVATION {
            for chunk in xs.chunks_exact(16) {
                let (mut wide, mut narrow) = ([0.0f32; 16], [0.0f32; 16]);
                // SAFETY: `Isa::avx512` found AVX-512F, AVX2 and FMA; each load and store
                // covers exactly its array of 16 (two halves of 8 for the narrow form).
                unsafe {
                    let v = _mm512_loadu_ps(chunk.as_ptr());
                    _mm512_storeu_ps(wide.as_mut_ptr(), avx512::apply(activation, v));
                    for half in 0..2 {
                        let v = _mm256_loadu_ps(chunk.as_ptr().add(8 * half));
                        let out = narrow.as_mut_ptr().add(8 * half);
                        _mm256_storeu_ps(out, avx2::apply(activation, v));
                    }
                }
                let same = wide
                    .iter()
                    .zip(&narrow)
                    .all(|(w, n)| w.to_bits() == n.to_bits());
                assert!(
                    same,
                    "{activation:?} on {chunk:?}: {wide:?} against {narrow:?}"
                );
            }
            // And over a slice whose length is no multiple of either width.
            let (Some(wide_isa), Some(narrow_isa)) = (Isa::avx512(), Isa::avx2()) else {
                unreachable!("AVX-512 implies AVX2")
            };
            let odd = &xs[..xs.len() - 5];
            let (mut wide, mut narrow) = (odd.to_vec(), odd.to_vec());
            activation.apply_to_slice_on(wide_isa, &mut wide);
            activation.apply_to_slice_on(narrow_isa, &mut narrow);
            let differs = wide
                .iter()
                .zip(&narrow)
                .position(|(w, n)| w.to_bits() != n.to_bits());
            assert_eq!(differs, None, "{activation:?} over a slice");
        }
    }
}
