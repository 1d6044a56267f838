//! Which instruction set the kernels use.
//!
//! Kernels with an AVX2 + FMA path call [`avx2_fma`] to choose it; every such kernel also has a
//! scalar path that computes the same numbers (within the golden tolerance). Setting the
//! environment variable `STRIDE_FORCE_SCALAR=1` before the first call, or calling
//! [`force_scalar`], makes every kernel take the scalar path, so the tests can cover both on
//! any machine.

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
