//! What handing a layer's split to the pool's other thread costs on this machine, the
//! overhead every parallel layer of a forward pays: a split into two tasks that each spin for
//! [`WORK_US`], in a pool of 2 threads, after the forward's thread has worked alone for a given
//! time (an idle helper spins a little, then sleeps, and a sleeping one must be woken). The
//! cost is the split's time minus one task's: what a layer would lose to the hand-off.
//!
//! Three ways to split:
//! * `outside`: from a thread outside the pool, each split through `install`, as a kernel
//!   called on a user's thread without a forward does.
//! * `rayon`: `rayon::join` on one of the pool's threads, as a forward without a crew did.
//! * `crew`: `stride_runtime`'s own split inside a forward (`threads::for_each` with the
//!   forward's crew, `threads/crew.rs`).
//!
//! ```text
//! cargo bench --bench pool_wake
//! ```
//!
//! Prints one line per idle time: the median and the 90th percentile in microseconds over
//! 2000 splits, for each way. Compare with a layer's time: at batch 1 a MobileNet layer
//! takes 10-400 µs.
//!
//! The first line is how near the pool's two threads sit: the round trip of one cache line
//! between them, two threads each waiting for the other's store, the least of 400 batches of
//! 1000 (so that a thread descheduled in a batch does not count). On 2 vCPUs of a Zen 5 EPYC
//! this was 42-49 ns most of the time and 330-360 ns for minutes at a time, when the VM's
//! two vCPUs sat on cores that share no L3; two-thread figures drop in that state.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::time::{Duration, Instant};

const ROUNDS: usize = 2000;

/// What each of the split's two tasks spins for, in microseconds.
const WORK_US: u64 = 20;

fn main() {
    println!("{{\"round_trip_ns\": {:.0}}}", round_trip_ns());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool of 2 threads");
    let work = || spin_for(Duration::from_micros(WORK_US));
    for idle_us in [0u64, 10, 50, 200, 1000] {
        let outside = measure(idle_us, || {
            pool.install(|| rayon::join(work, work));
        });
        let rayon = pool.install(|| {
            measure(idle_us, || {
                rayon::join(work, work);
            })
        });
        let crew = pool.install(|| {
            stride_runtime::threads::bench_forward(|| {
                measure(idle_us, || {
                    stride_runtime::threads::bench_split(2, |t| {
                        black_box(t);
                        work()
                    })
                })
            })
        });
        let field = |name: &str, (median, p90): (f64, f64)| {
            format!("\"{name}_median_us\": {median:.2}, \"{name}_p90_us\": {p90:.2}")
        };
        println!(
            "{{\"idle_us\": {idle_us}, \"work_us\": {WORK_US}, {}, {}, {}}}",
            field("outside", outside),
            field("rayon", rayon),
            field("crew", crew),
        );
    }
}

/// The least mean round trip of a cache line between two threads, in nanoseconds, over
/// batches of 1000: each thread waits for the other's store, then stores.
fn round_trip_ns() -> f64 {
    const BATCHES: u64 = 400;
    const PER_BATCH: u64 = 1000;
    let line = AtomicU64::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..BATCHES * PER_BATCH {
                while line.load(Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                line.store(2 * i + 2, Release);
            }
        });
        (0..BATCHES)
            .map(|batch| {
                let start = Instant::now();
                for i in batch * PER_BATCH..(batch + 1) * PER_BATCH {
                    line.store(2 * i + 1, Release);
                    while line.load(Acquire) != 2 * i + 2 {
                        std::hint::spin_loop();
                    }
                }
                start.elapsed().as_nanos() as f64 / PER_BATCH as f64
            })
            .fold(f64::INFINITY, f64::min)
    })
}

/// The median and 90th percentile, in microseconds, of `split`'s time past one task's
/// ([`WORK_US`]) after `idle_us` of work alone.
fn measure(idle_us: u64, split: impl Fn()) -> (f64, f64) {
    let mut times: Vec<f64> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        if idle_us > 0 {
            spin_for(Duration::from_micros(idle_us));
        }
        let start = Instant::now();
        split();
        times.push(start.elapsed().as_secs_f64() * 1e6 - WORK_US as f64);
    }
    times.sort_by(f64::total_cmp);
    (times[ROUNDS / 2], times[ROUNDS * 9 / 10])
}

/// Works `d` on this thread without sleeping, as a task or a forward's serial work would.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}
