//! The bottom of the kernels: which instruction set they use, and the small pieces every kernel
//! shares at that level. Everything else in the crate builds on this module; it builds on
//! nothing of the crate's.
//!
//! * Here: the choice of instruction set. Kernels with an AVX2 + FMA path call [`avx2_fma`]
//!   (through the capability token below) to choose it; every such kernel also has a scalar
//!   path that computes the same numbers (within the golden tolerance). The GEMM's
//!   micro-kernel, the depthwise kernel, the pools and the activations also have an AVX-512
//!   path, taken as [`avx512`] says; every other kernel takes its AVX2 path on such a CPU.
//!   Setting the environment variable
//!   `STRIDE_FORCE_SCALAR=1` (or `STRIDE_ISA=scalar`) before the first call, or calling
//!   [`force_scalar`], makes every kernel take the scalar path; `STRIDE_ISA=avx2` keeps a CPU
//!   with AVX-512 on the AVX2 paths; so the tests can cover every path on one machine. Inside
//!   the crate the choice travels as a capability token, `Isa`: only this module makes its
//!   vector values, after checking the CPU, so a kernel holding `Isa::Avx2` may call its
//!   `#[target_feature(enable = "avx2,fma")]` functions, and one holding `Isa::Avx512` those
//!   and its `#[target_feature(enable = "avx512f,avx2,fma")]` ones.
//! * `activation.rs`: the activation a layer applies as it writes its output
//!   ([`Activation`], whose array ops live in `ops`) in the forms the
//!   kernels apply it: one value, a slice, and a register (8 lanes of AVX2, 16 of AVX-512).
//! * `lanes.rs`: the lane-wise operations the vector math and activations are written in,
//!   once per register width, so that one body of code serves both widths.
//! * `math.rs`: what the smooth activations are made of (`exp`, `erf`, the normal
//!   distribution function, `tanh`, the logistic sigmoid), one value and a register at a time,
//!   with their measured accuracy.
//! * `copy.rs`: fills and copies of the short runs that packing and staging are made of (a
//!   few dozen values), without a `memset` or `memmove` call, which costs more than the work
//!   at those lengths.
//! * `bounds.rs`: whether every value of a slice is finite and within a bound, the scan that
//!   keeps non-finite inputs off Winograd's transforms.
//! * `subnormal.rs`: subnormal numbers flushed to zero while the kernels run (x86's FTZ and
//!   DAZ), which would otherwise take microcode assists ([`set_flush_subnormals`]).

pub(crate) mod activation;
mod bounds;
mod copy;
mod lanes;
mod math;
mod subnormal;

pub(crate) use activation::Activation;
pub(crate) use copy::zero;
pub(crate) use subnormal::Flush;
pub use subnormal::set_flush_subnormals;

use std::sync::atomic::{AtomicU8, Ordering};

/// The widest path kernels may take, in order: scalar, AVX2 + FMA, AVX-512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Scalar = 1,
    Avx2 = 2,
    Avx512 = 3,
}

/// 0: not decided yet; else the [`Level`] in force.
static CHOICE: AtomicU8 = AtomicU8::new(0);

impl Level {
    fn from_u8(v: u8) -> Level {
        match v {
            3 => Level::Avx512,
            2 => Level::Avx2,
            _ => Level::Scalar,
        }
    }

    /// The widest level the CPU has, capped by the environment: `STRIDE_FORCE_SCALAR` (any
    /// value but `0`) or `STRIDE_ISA=scalar` for the scalar path, `STRIDE_ISA=avx2` for AVX2
    /// on a CPU that has AVX-512. `STRIDE_ISA=avx512` (or unset, or another value) leaves the
    /// CPU's choice.
    fn allowed() -> Level {
        let forced = std::env::var_os("STRIDE_FORCE_SCALAR").is_some_and(|v| v != "0");
        let cap = match std::env::var("STRIDE_ISA").as_deref() {
            _ if forced => Level::Scalar,
            Ok("scalar") => Level::Scalar,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        cap.min(Level::detected())
    }

    #[cfg(target_arch = "x86_64")]
    fn detected() -> Level {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            Level::Scalar
        } else if is_x86_feature_detected!("avx512f") {
            Level::Avx512
        } else {
            Level::Avx2
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn detected() -> Level {
        Level::Scalar
    }

    /// The level in force, decided on the first call.
    #[inline]
    fn current() -> Level {
        match CHOICE.load(Ordering::Relaxed) {
            0 => {
                let allowed = Level::allowed() as u8;
                // Another thread may have decided first (or `force_scalar` was called); keep
                // theirs.
                let _ = CHOICE.compare_exchange(0, allowed, Ordering::Relaxed, Ordering::Relaxed);
                Level::from_u8(CHOICE.load(Ordering::Relaxed))
            }
            choice => Level::from_u8(choice),
        }
    }
}

/// Whether kernels should use their AVX2 + FMA path (or a wider one): the CPU has both, and
/// neither `STRIDE_FORCE_SCALAR`, `STRIDE_ISA=scalar` nor [`force_scalar`] asked for the
/// scalar path.
///
/// ```
/// // On any machine this is a plain bool; kernels branch on it once per call.
/// let _fast = stride_runtime::simd::avx2_fma();
/// ```
#[inline]
pub fn avx2_fma() -> bool {
    Level::current() >= Level::Avx2
}

/// Whether kernels that have an AVX-512 path (the GEMM's, the depthwise) should take it: the
/// CPU has AVX-512F besides AVX2 and FMA, and neither `STRIDE_ISA=avx2`, the scalar
/// overrides nor [`force_scalar`] asked for a narrower path. Kernels without one take their
/// AVX2 path.
///
/// ```
/// // Implies the AVX2 path where it is true.
/// assert!(!stride_runtime::simd::avx512() || stride_runtime::simd::avx2_fma());
/// ```
#[inline]
pub fn avx512() -> bool {
    Level::current() == Level::Avx512
}

/// Makes every kernel take its scalar path (`true`), or the widest path the CPU supports
/// and the environment allows (`false`): `STRIDE_ISA=avx2` still holds after
/// `force_scalar(false)`.
///
/// ```
/// stride_runtime::simd::force_scalar(true);
/// assert!(!stride_runtime::simd::avx2_fma());
/// stride_runtime::simd::force_scalar(false);
/// ```
pub fn force_scalar(scalar: bool) {
    let level = if scalar {
        Level::Scalar
    } else {
        Level::allowed()
    };
    CHOICE.store(level as u8, Ordering::Relaxed);
}

/// Whether the CPU runs a 512-bit operation as two 256-bit halves, so that it issues one zmm
/// multiply-add a cycle (two ymm ones on its AVX2 path): AMD's Zen 4, family 0x19 with
/// AVX-512F (Zen 3, the same family, has no AVX-512; Zen 5 is family 0x1a). A tile that
/// spends loads to save multiply-adds pays there and not on a CPU with two 512-bit units
/// (`conv2d`'s grouped kernel chooses by it). Read from `cpuid` once.
pub(crate) fn halved_zmm() -> bool {
    static HALVED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HALVED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use core::arch::x86_64::__cpuid;
            let vendor = __cpuid(0);
            let amd =
                (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
            let eax = __cpuid(1).eax;
            let base = (eax >> 8) & 0xf;
            let family = if base == 0xf {
                base + ((eax >> 20) & 0xff)
            } else {
                base
            };
            amd && family == 0x19 && is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// The instruction set a kernel runs on, as a capability token: only [`Isa::detect`],
/// [`Isa::avx2`] and [`Isa::avx512`] make the vector values, and they check the CPU first, so
/// holding one proves that its instructions exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Plain Rust, for any CPU and for `STRIDE_FORCE_SCALAR`.
    Scalar,
    /// AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2Token),
    /// AVX-512F, and AVX2 and FMA with it: kernels without a 512-bit form take their AVX2
    /// path on this value too.
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512Token),
}

/// Proof that the CPU has AVX2 and FMA; only [`Isa::avx2`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Avx2Token(());

/// Proof that the CPU has AVX-512F, AVX2 and FMA; only [`Isa::avx512`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Avx512Token(());

impl Isa {
    /// The instruction set [`avx2_fma`] and [`avx512`] choose. Kernels call this once per
    /// call, outside their loops.
    pub(crate) fn detect() -> Isa {
        let widest = match Level::current() {
            Level::Avx512 => Isa::avx512(),
            Level::Avx2 => Isa::avx2(),
            Level::Scalar => None,
        };
        widest.unwrap_or(Isa::Scalar)
    }

    /// AVX2 + FMA if the CPU has both, whatever [`force_scalar`] and the environment say:
    /// for tests that run every path.
    pub(crate) fn avx2() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        if Level::detected() >= Level::Avx2 {
            return Some(Isa::Avx2(Avx2Token(())));
        }
        None
    }

    /// AVX-512 if the CPU has it (with AVX2 and FMA), whatever [`force_scalar`] and the
    /// environment say: for tests that run every path.
    pub(crate) fn avx512() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        if Level::detected() == Level::Avx512 {
            return Some(Isa::Avx512(Avx512Token(())));
        }
        None
    }

    /// Every path this CPU has, the scalar one first: what the kernels' tests run.
    #[cfg(test)]
    pub(crate) fn all() -> Vec<Isa> {
        [Some(Isa::Scalar), Isa::avx2(), Isa::avx512()]
            .into_iter()
            .flatten()
            .collect()
    }
}
