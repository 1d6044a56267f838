//! Subnormal numbers read as zero and results that would be subnormal written as zero, while
//! the crate's kernels run: the x86 MXCSR's DAZ and FTZ bits, set on entry and restored on the
//! way out, so the caller's thread keeps its own floating-point state.
//!
//! x86 cores finish arithmetic on subnormal numbers (magnitudes below `1.2e-38`) in
//! microcode, a hundred cycles or so per operation instead of a few. Networks make them:
//! a squeeze-excitation gate near zero times small activations, a SiLU far below zero, and the
//! layers after multiply them on. EfficientNet-B0 with seeded weights spent 17% of its
//! forward on them (12.7 ms, 10.6 ms with the bits set); its 1x1 expansion and 5x5 depthwise
//! layers ran at half speed. OpenVINO sets the same bits by default, and PyTorch offers
//! `torch.set_flush_denormal(True)`. The results differ from exact arithmetic by less than
//! `1.2e-38` per value; NaN and infinities are untouched.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether kernels flush subnormals ([`set_flush_subnormals`]); on by default.
static FLUSH: AtomicBool = AtomicBool::new(true);

/// Turns the flushing of subnormal numbers to zero while the crate's kernels run on
/// (`true`, the default) or off, process-wide. Off, subnormal inputs and results are computed
/// exactly, as PyTorch does by default, at the cost above.
///
/// ```
/// stride_runtime::set_flush_subnormals(false);
/// stride_runtime::set_flush_subnormals(true);
/// ```
pub fn set_flush_subnormals(on: bool) {
    FLUSH.store(on, Ordering::Relaxed);
}

/// The flushing mode for as long as it lives, on this thread; the thread's previous mode
/// when dropped (also when a panic unwinds through it). Nested guards restore in turn.
pub(crate) struct Flush {
    #[cfg(target_arch = "x86_64")]
    saved: Option<u32>,
}

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

impl Flush {
    /// Sets this thread's flushing mode to the process-wide choice.
    pub(crate) fn on() -> Flush {
        #[cfg(target_arch = "x86_64")]
        {
            if !FLUSH.load(Ordering::Relaxed) {
                return Flush { saved: None };
            }
            let saved = mxcsr();
            if saved & FTZ_DAZ != FTZ_DAZ {
                set_mxcsr(saved | FTZ_DAZ);
            }
            Flush { saved: Some(saved) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Flush {}
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(saved) = self.saved {
            if saved & FTZ_DAZ != FTZ_DAZ {
                set_mxcsr(saved);
            }
        }
    }
}

/// This thread's MXCSR.
#[cfg(target_arch = "x86_64")]
pub(crate) fn mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: `stmxcsr` stores the 4-byte register at the address, which is `value`'s.
    unsafe {
        core::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
    }
    value
}

/// Sets this thread's MXCSR to `value`, one that [`mxcsr`] read with at most the FTZ and DAZ
/// bits changed (no exception unmasked, so no floating-point operation can trap).
#[cfg(target_arch = "x86_64")]
fn set_mxcsr(value: u32) {
    // SAFETY: `ldmxcsr` loads 4 bytes from the address, `value`'s; the value keeps every
    // exception masked as it was, changing only how subnormals are treated.
    unsafe {
        core::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn a_guard_flushes_while_it_lives_and_restores_the_threads_mode() {
        let before = mxcsr();
        let tiny = std::hint::black_box(1e-39f32);
        assert!(tiny.is_subnormal());
        {
            let _flush = Flush::on();
            assert_eq!(mxcsr() & FTZ_DAZ, FTZ_DAZ);
            // DAZ: the subnormal operand reads as zero.
            assert_eq!(std::hint::black_box(tiny) * 1.0, 0.0);
            {
                let _inner = Flush::on();
            }
            assert_eq!(
                mxcsr() & FTZ_DAZ,
                FTZ_DAZ,
                "an inner guard keeps the outer mode"
            );
        }
        assert_eq!(mxcsr(), before);
        assert!((std::hint::black_box(tiny) * 1.0).is_subnormal());
    }
}
