//! How many threads the kernels use.
//!
//! The heavy ops (conv2d, conv_transpose2d, linear) split their work into tasks and run them
//! on [rayon](https://docs.rs/rayon) threads; small calls (a few million FLOPs) run on the
//! calling thread, where starting tasks would cost more than it saves. Which threads:
//!
//! * By default, the rayon pool the call runs in: rayon's global pool, whose size follows
//!   the `RAYON_NUM_THREADS` environment variable (else one thread per core), or the pool of
//!   a caller inside [`rayon::ThreadPool::install`][install], so an application that already
//!   uses rayon keeps its kernels on its own pool.
//! * After [`set_threads`]`(n)`, `n` threads for every call in the process: `1` runs every
//!   kernel on the calling thread, without rayon; a larger `n` uses a pool of that size that
//!   the crate keeps. [`set_threads`]`(0)` returns to the default.
//!
//! Results do not depend on the thread count: tasks split the output, never a sum.
//!
//! A network's forward runs whole on a thread of that pool (one hand-off per forward): each
//! layer's split is then handed between the pool's own threads, which costs 0.04-7 µs, where
//! a split from a thread outside the pool costs 17-49 µs (`cargo bench --bench pool_wake`,
//! 2 vCPUs of a Zen 5 EPYC). From a user's main thread, MobileNetV2 at batch 1 on two threads
//! went from about 4.9 to 3.6 ms, EfficientNet-B0 from 7.6 to 6.2.
//!
//! ```
//! stride_runtime::set_threads(1)?;
//! assert_eq!(stride_runtime::threads(), 1);
//! stride_runtime::set_threads(0)?; // back to rayon's pool
//! # Ok::<(), stride_runtime::Error>(())
//! ```
//!
//! [install]: https://docs.rs/rayon/1/rayon/struct.ThreadPool.html#method.install

use std::sync::{Arc, RwLock};

use rayon::prelude::*;

use crate::{Error, Result};

/// `None`: the current rayon pool. `Some(None)`: the calling thread only. `Some(Some(pool))`:
/// the crate's own pool.
type Policy = Option<Option<Arc<rayon::ThreadPool>>>;

static POLICY: RwLock<Policy> = RwLock::new(None);

/// Sets the number of threads every kernel uses from now on, process-wide: `0` for the
/// current rayon pool (the default; see [the module docs](self)), `1` for the calling thread
/// only, `n` for a pool of `n` threads that this crate owns.
///
/// Refuses (and keeps the previous setting) when the operating system will not start the
/// threads.
///
/// ```
/// stride_runtime::set_threads(2)?;
/// assert_eq!(stride_runtime::threads(), 2);
/// # stride_runtime::set_threads(0)?;
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn set_threads(n: usize) -> Result<()> {
    let policy = match n {
        0 => None,
        1 => Some(None),
        n => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("stride-{i}"))
                .build()
                .map_err(|e| Error::Param {
                    op: "set_threads",
                    message: format!("could not start {n} threads: {e}"),
                })?;
            Some(Some(Arc::new(pool)))
        }
    };
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
    Ok(())
}

/// The number of threads a kernel called now from this thread would use.
///
/// ```
/// assert!(stride_runtime::threads() >= 1);
/// ```
pub fn threads() -> usize {
    match policy() {
        None => rayon::current_num_threads(),
        Some(None) => 1,
        Some(Some(pool)) => pool.current_num_threads(),
    }
}

fn policy() -> Policy {
    POLICY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Runs `f`, a whole forward, on a thread of the pool its kernels will use, so that each
/// layer's split is handed between that pool's threads (0.04 µs when the other thread is
/// awake, 7 µs when it must be woken) instead of from outside the pool, which injects the
/// work and puts the caller to sleep until it is done (17 µs awake, 49 µs asleep; both from
/// `cargo bench --bench pool_wake` on this project's 2-vCPU machine). Called on a pool's
/// thread, or with one thread, it runs `f` where it is.
pub(crate) fn run_inside<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    match policy() {
        Some(None) => f(),
        Some(Some(pool)) => pool.install(f),
        // A `join` from outside rayon's global pool runs both halves on the pool, the caller
        // waiting: the way into the global pool, which has no handle to `install` on.
        None => rayon::join(f, || ()).0,
    }
}

/// Runs `f` on every task, on the threads the policy gives; on the calling thread when there
/// is one task or one thread.
pub(crate) fn for_each<T: Send>(tasks: Vec<T>, f: impl Fn(T) + Sync + Send) {
    // Each task, on whichever thread, runs with subnormals flushed (`simd::Flush`).
    let f = |task: T| {
        let _flush = crate::simd::Flush::on();
        f(task)
    };
    if tasks.len() <= 1 {
        tasks.into_iter().for_each(f);
        return;
    }
    match policy() {
        Some(None) => tasks.into_iter().for_each(f),
        None if rayon::current_num_threads() == 1 => tasks.into_iter().for_each(f),
        None => tasks.into_par_iter().for_each(f),
        Some(Some(pool)) => pool.install(|| tasks.into_par_iter().for_each(f)),
    }
}

/// Runs `f(offset, chunk)` on each chunk of `data`, cut into runs of `chunk_len` values (the
/// last one shorter) where `offset` is the chunk's first index, on the threads the policy
/// gives ([`for_each`]): for elementwise kernels over one buffer.
pub(crate) fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    debug_assert!(chunk_len > 0);
    let tasks: Vec<_> = data.chunks_mut(chunk_len).enumerate().collect();
    for_each(tasks, |(i, chunk)| f(i * chunk_len, chunk));
}
