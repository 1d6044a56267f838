//! What handing work to rayon's other threads costs on this machine, the overhead every
//! parallel layer of a forward pays once: two tasks that do nothing, split with `rayon::join`
//! in a pool of 2 threads, after the pool has been idle for a given time (its workers spin a
//! little after their last task, then sleep, and a sleeping worker must be woken). Measured
//! from outside the pool (each split goes through `install`, as a kernel called on a user's
//! thread does) and from inside it (a forward that runs on one of the pool's threads, as
//! `forward` inside the user's `install` does).
//!
//! ```text
//! cargo bench --bench pool_wake
//! ```
//!
//! Prints one line per idle time: the median and the 90th percentile in microseconds over
//! 2000 hand-offs, from outside the pool and from inside it. Compare with a layer's time: at batch 1 a MobileNet layer takes 20-400 µs.

use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 2000;

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool of 2 threads");
    for idle_us in [0u64, 10, 50, 200, 1000] {
        let outside = measure(idle_us, || {
            pool.install(|| rayon::join(|| black_box(1), || black_box(2)));
        });
        let inside = pool.install(|| {
            measure(idle_us, || {
                rayon::join(|| black_box(1), || black_box(2));
            })
        });
        println!(
            "{{\"idle_us\": {idle_us}, \"outside_median_us\": {:.2}, \"outside_p90_us\": {:.2}, \"inside_median_us\": {:.2}, \"inside_p90_us\": {:.2}}}",
            outside.0, outside.1, inside.0, inside.1
        );
    }
}

/// The median and 90th percentile, in microseconds, of `split` after `idle_us` of waiting.
fn measure(idle_us: u64, split: impl Fn()) -> (f64, f64) {
    let mut times: Vec<f64> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        if idle_us > 0 {
            spin_for(Duration::from_micros(idle_us));
        }
        let start = Instant::now();
        split();
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[ROUNDS / 2], times[ROUNDS * 9 / 10])
}

/// Waits `d` on this thread without sleeping, as a forward's serial work between layers
/// would.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}
