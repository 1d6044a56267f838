//! The bottom of the kernels: which instruction set they use, and the small pieces every kernel
//! shares at that level. Everything else in the crate builds on this module; it builds on
//! nothing of the crate's.
//!
//! * Here: the choice of instruction set. Kernels with an AVX2 + FMA path call [`avx2_fma`]
//!   (through the capability token below) to choose it; every such kernel also has a scalar
//!   path that computes the same numbers (within the golden tolerance). Setting the
//!   environment variable `STRIDE_FORCE_SCALAR=1` before the first call, or calling
//!   [`force_scalar`], makes every kernel take the scalar path, so the tests can cover both on
//!   any machine. Inside the crate the choice travels as a capability token, `Isa`: only this
//!   module makes its AVX2 value, after checking the CPU, so a kernel holding one may call its
//!   `#[target_feature(enable = "avx2,fma")]` functions.
//! * `activation.rs`: the activation a layer applies as it writes its output
//!   ([`Activation`], whose array ops live in `ops`) in the forms the
//!   kernels apply it: one value, a slice, and 8 lanes of an AVX2 register.
//! * `math.rs`: what the smooth activations are made of (`exp`, `erf`, the normal
//!   distribution function, `tanh`, the logistic sigmoid), one value and 8 lanes at a time,
//!   with their measured accuracy.
//! * `copy.rs`: fills and copies of the short runs that packing and staging are made of (a
//!   few dozen values), without a `memset` or `memmove` call, which costs more than the work
//!   at those lengths.
//! * `bounds.rs`: whether every value of a slice is finite and within a bound, the scan that
//!   keeps non-finite inputs off Winograd's transforms.

pub(crate) mod activation;
mod bounds;
mod copy;
mod math;

pub(crate) use activation::Activation;
pub(crate) use copy::zero;

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not decided yet; 1: scalar; 2: AVX2 + FMA.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Whether kernels should use their AVX2 + FMA path: the CPU has both, and neither
/// `STRIDE_FORCE_SCALAR` nor [`force_scalar`] asked for the scalar path.
///
/// ```
/// // On any machine this is a plain bool; kernels branch on it once per call.
/// let _fast = stride_runtime::simd::avx2_fma();
/// ```
#[inline]
pub fn avx2_fma() -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        0 => {
            let forced = std::env::var_os("STRIDE_FORCE_SCALAR").is_some_and(|v| v != "0");
            let fast = !forced && detected();
            // Another thread may have decided first (or `force_scalar` was called); keep theirs.
            let _ = CHOICE.compare_exchange(
                0,
                if fast { 2 } else { 1 },
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            CHOICE.load(Ordering::Relaxed) == 2
        }
        choice => choice == 2,
    }
}

/// Makes every kernel take its scalar path (`true`), or the fastest path the CPU supports
/// (`false`).
///
/// ```
/// stride_runtime::simd::force_scalar(true);
/// assert!(!stride_runtime::simd::avx2_fma());
/// stride_runtime::simd::force_scalar(false);
/// ```
pub fn force_scalar(scalar: bool) {
    let fast = !scalar && detected();
    CHOICE.store(if fast { 2 } else { 1 }, Ordering::Relaxed);
}

#[cfg(target_arch = "x86_64")]
fn detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn detected() -> bool {
    false
}

/// The instruction set a kernel runs on, as a capability token: only [`Isa::detect`] and
/// [`Isa::avx2`] make an `Isa::Avx2`, and they check the CPU first, so holding one proves that
/// the AVX2 and FMA instructions exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Plain Rust, for any CPU and for `STRIDE_FORCE_SCALAR`.
    Scalar,
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Token),
}

/// Proof that the CPU has AVX2 and FMA; only [`Isa::avx2`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Avx2Token(());

impl Isa {
    /// The instruction set [`avx2_fma`] chooses. Kernels call this once per call, outside
    /// their loops.
    pub(crate) fn detect() -> Isa {
        if avx2_fma() {
            if let Some(isa) = Isa::avx2() {
                return isa;
            }
        }
        Isa::Scalar
    }

    /// AVX2 + FMA if the CPU has both, whatever [`force_scalar`] says: for tests that run
    /// both paths.
    pub(crate) fn avx2() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        if detected() {
            return Some(Isa::Avx2(Avx2Token(())));
        }
        None
    }
}
