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
//! A network's forward runs whole on a thread of that pool, with the pool's other threads
//! held as its crew for as long as it runs (`threads/crew.rs`): they spin between the
//! layers' splits, so a split is handed to a thread that is awake. Measured with
//! `cargo bench --bench pool_wake` on 2 vCPUs of a Zen 5 EPYC (two tasks of 20 µs; what the
//! split costs past one task's time, medians): 0.3-1.2 µs on the crew whatever the serial
//! work before it; with `rayon::join` from a pool's thread 0.6-1.4 µs after 10 µs of serial
//! work, but 13-17 µs after 50 µs and the whole second task (20 µs) after 200 µs, since
//! rayon's idle worker has gone to sleep by then; from outside the pool 18-60 µs.
//!
//! Which layers split follows from that cost: a split pays when each half's work is several
//! times the hand-off, so inside a forward a product of 1 MFLOP or more splits
//! (`gemm::parallel_flops`: 4-10 µs on one core), and outside one, where rayon hands work
//! over, 4 MFLOP. MobileNetV3-Small at batch 1, whose layers take 10-30 µs, went from 0.95 to
//! 0.66 ms on two threads (1.16-1.2 ms on one), ResNet-50 from 20.3 to 19.3 ms and
//! ResNet-18 from 7.8 to 7.4 (`cargo bench --bench networks -- --net NAME --batch 1
//! --threads 2`, the two ways alternated three times in one build, medians, with this
//! benchmark's scheduling group given priority over the other work on the machine).
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

mod crew;

use crew::{Seat, with_crew};

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

/// Runs `f`, a whole forward, on a thread of the pool its kernels will use, with the pool's
/// other threads held there as its [`Crew`] for as long as `f` runs: each layer's split is
/// then handed to threads that are already awake and looking for it. Called with one thread,
/// or inside a forward that already has its crew, it runs `f` where it is; called on a thread
/// of another pool than the crate's own ([`set_threads`]), it runs `f` there and each split
/// goes to the crate's pool from outside.
pub(crate) fn run_inside<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if Seat::occupied() {
        return f();
    }
    match policy() {
        Some(None) => f(),
        Some(Some(pool)) if pool.current_thread_index().is_some() => with_crew(f),
        Some(Some(_)) if rayon::current_thread_index().is_some() => f(),
        Some(Some(pool)) => pool.install(|| with_crew(f)),
        None if rayon::current_thread_index().is_some() => with_crew(f),
        // A `join` from outside rayon's global pool runs both halves on the pool, the caller
        // waiting: the way into the global pool, which has no handle to `install` on.
        None => rayon::join(|| with_crew(f), || ()).0,
    }
}

/// Whether this thread runs a forward whose crew waits for its splits ([`run_inside`]).
pub(crate) fn in_forward() -> bool {
    Seat::occupied()
}

/// Runs `f` on every task, on the threads the policy gives; on the calling thread when there
/// is one task or one thread. Inside a forward, the forward's [`Crew`] runs them.
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
    if let Some(seat) = Seat::take() {
        seat.crew().run(tasks, &f);
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

/// Runs `f` as a forward runs ([`run_inside`]): for `benches/pool_wake.rs`, which measures
/// what a split costs there. Not part of the API.
#[doc(hidden)]
pub fn bench_forward<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    run_inside(f)
}

/// Runs `f(t)` for `t` in `0..tasks` as a kernel's split does ([`for_each`]): for
/// `benches/pool_wake.rs`. Not part of the API.
#[doc(hidden)]
pub fn bench_split(tasks: usize, f: impl Fn(usize) + Sync + Send) {
    for_each((0..tasks).collect(), f)
}
