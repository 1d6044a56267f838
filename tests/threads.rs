//! A network shared between threads: every public network, layer and error type is
//! `Send + Sync`, `forward` from many threads at once on one network gives what one thread
//! gives, bit for bit, and `forward` inside a user's own rayon pools, nested, finishes.
//!
//! Bit for bit, not within a tolerance: the kernels split their work over the output and never
//! split a sum (`stride_runtime::threads`), so neither the thread count nor other calls
//! running at once may change a single bit.
//!
//! Nothing here calls `set_threads`, which is process-wide: every test runs under the default
//! policy (the rayon pool the call is in).

use std::sync::mpsc;
use std::time::Duration;

use ndarray::{Array4, ArrayD};
use rayon::prelude::*;

#[path = "../examples/models/mod.rs"]
mod models;

use models::{DcganGenerator, NarrowBasic};

/// How long a test may take before it counts as deadlocked (a few seconds is normal).
const DEADLOCK: Duration = Duration::from_secs(300);

/// Fails to compile unless `T` may be moved to and shared between threads.
fn send_sync<T: Send + Sync>() {}

#[test]
fn every_public_network_layer_and_error_type_is_send_and_sync() {
    use stride::runtime::graph::{Graph, Model};
    use stride::runtime::ops::{
        BatchNorm2d, Conv2d, ConvTranspose2d, Fused, LayerNorm2d, LayerScale, Linear,
    };
    use stride::runtime::typed::{At, Chain, Chw, Flat, Tensor, typenum::U};
    use stride::runtime::weights::{LoadError, LoadOptions, Loader, SaveError, Saver, Weights};
    use stride::zoo;

    // Networks `network!` declares: the examples', and the zoo's, with blocks and without.
    send_sync::<NarrowBasic>();
    send_sync::<DcganGenerator>();
    send_sync::<models::ResNetStem>();
    send_sync::<models::NarrowBottleneck>();
    send_sync::<zoo::LeNet5>();
    send_sync::<zoo::ResNet18>();
    send_sync::<zoo::ResNet50>();
    send_sync::<zoo::DenseNet121>();
    send_sync::<zoo::GoogLeNet>();
    send_sync::<zoo::MobileNetV3Small>();
    send_sync::<zoo::EfficientNetB0>();
    send_sync::<zoo::ConvNeXtTiny>();
    send_sync::<zoo::Vgg16Bn>();
    // What they are made of, and what composes them.
    send_sync::<Model>();
    send_sync::<Graph>();
    send_sync::<Conv2d>();
    send_sync::<ConvTranspose2d>();
    send_sync::<Fused<Conv2d>>();
    send_sync::<Fused<ConvTranspose2d>>();
    send_sync::<BatchNorm2d>();
    send_sync::<LayerNorm2d>();
    send_sync::<LayerScale>();
    send_sync::<Linear>();
    send_sync::<Chain<NarrowBasic, NarrowBasic>>();
    send_sync::<At<zoo::ResNet18, 224, 224>>();
    send_sync::<Tensor<Chw<U<3>, U<224>, U<224>>>>();
    send_sync::<Tensor<Flat<U<10>>>>();
    // Weights in and out, and the errors, so `Box<dyn Error + Send + Sync>` takes them.
    send_sync::<Weights>();
    send_sync::<Loader<'static>>();
    send_sync::<LoadOptions>();
    send_sync::<Saver>();
    send_sync::<stride::runtime::Error>();
    send_sync::<LoadError>();
    send_sync::<SaveError>();
}

/// A batch of `n` samples of `shape` (`[C, H, W]`), different for each `n` and `salt`.
fn batch(n: usize, shape: [usize; 3], salt: usize) -> Array4<f32> {
    let [c, h, w] = shape;
    Array4::from_shape_fn((n, c, h, w), |(i, c, y, x)| {
        let k = (i * 31 + c * 7 + y * 3 + x + salt * 101) as f32;
        (k * 0.37).sin()
    })
}

/// Asserts that two outputs hold the same bits (so `-0.0` differs from `0.0`, and a NaN only
/// equals a NaN of the same payload).
#[track_caller]
fn assert_same_bits(got: &ArrayD<f32>, want: &ArrayD<f32>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let first = got
        .iter()
        .zip(want)
        .position(|(g, w)| g.to_bits() != w.to_bits());
    if let Some(at) = first {
        let (g, w) = (got.iter().nth(at), want.iter().nth(at));
        panic!("{what}: element {at} is {g:?}, one thread gave {w:?}");
    }
}

/// `f` on one thread, with rayon held to that thread: the reference each concurrent result is
/// compared with.
fn on_one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a pool of one thread");
    pool.install(f)
}

/// Runs `test` on a thread of its own and fails if it takes longer than [`DEADLOCK`]: a hang
/// becomes a failure that says so, not a test run that never ends.
fn within_deadline(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(DEADLOCK) {
        Ok(()) => runner.join().expect("the test thread"),
        // The sender was dropped without a send: the test panicked; report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("no result after {DEADLOCK:?}: a deadlock")
        }
    }
}

/// The batch sizes the concurrent tests cycle through. From batch 2 on, the first
/// convolution is large enough to split its work over rayon's global pool (more and more
/// layers with the batch); the references run on one thread, so the split must not show.
const BATCHES: [usize; 4] = [1, 2, 5, 16];

#[test]
fn forward_from_8_threads_on_one_shared_network_gives_the_single_thread_bits() {
    within_deadline(|| {
        // A fused residual network (folded batch norms, residual adds in the epilogue, max
        // and adaptive pools, a linear head) and a transposed-conv generator, each shared by
        // all eight threads.
        let resnet = NarrowBasic::init(7);
        let dcgan = DcganGenerator::init(8);
        let inputs: Vec<_> = BATCHES
            .iter()
            .map(|&n| (batch(n, NarrowBasic::INPUT, n), batch(n, [16, 1, 1], n)))
            .collect();
        let references: Vec<_> = on_one_thread(|| {
            inputs
                .iter()
                .map(|(x, z)| {
                    let y = resnet.forward(x.view()).unwrap().into_dyn();
                    let image = dcgan.forward(z.view()).unwrap().into_dyn();
                    (y, image)
                })
                .collect()
        });
        const ITERATIONS: usize = 200;
        std::thread::scope(|s| {
            for thread in 0..8 {
                let (resnet, dcgan, inputs, references) = (&resnet, &dcgan, &inputs, &references);
                s.spawn(move || {
                    for i in 0..ITERATIONS {
                        // Each thread walks the batch sizes from its own start, so calls of
                        // every size overlap.
                        let at = (thread + i) % BATCHES.len();
                        let (x, z) = &inputs[at];
                        let (want_y, want_image) = &references[at];
                        let what = format!("thread {thread}, iteration {i}, batch {}", BATCHES[at]);
                        if i % 4 == 3 {
                            let image = dcgan.forward(z.view()).unwrap().into_dyn();
                            assert_same_bits(&image, want_image, &what);
                        } else {
                            let y = resnet.forward(x.view()).unwrap().into_dyn();
                            assert_same_bits(&y, want_y, &what);
                        }
                    }
                });
            }
        });
    });
}

#[test]
fn forward_inside_a_users_pool_installed_inside_another_pool_finishes_with_the_same_bits() {
    within_deadline(|| {
        let resnet = NarrowBasic::init(11);
        let x = batch(2, NarrowBasic::INPUT, 0);
        let want = on_one_thread(|| resnet.forward(x.view()).unwrap().into_dyn());
        // Pools of one thread are the tightest case: a worker that blocks on a nested
        // `install` is its pool's only thread.
        for (outer_threads, inner_threads) in [(2, 2), (1, 1), (2, 1), (1, 3)] {
            let build = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build();
            let (outer, inner) = (build(outer_threads).unwrap(), build(inner_threads).unwrap());
            let what = format!("outer pool of {outer_threads}, inner of {inner_threads}");
            // Eight tasks on the outer pool: half run `forward` in the inner pool (the user's
            // `install` inside a rayon task), half straight in the outer pool's workers, and
            // one more `install` nests the inner pool inside itself through the outer one.
            let outputs: Vec<_> = outer.install(|| {
                (0..8)
                    .into_par_iter()
                    .map(|task| {
                        let run = || resnet.forward(x.view()).unwrap().into_dyn();
                        match task % 3 {
                            0 => inner.install(run),
                            1 => run(),
                            _ => inner.install(|| outer.install(|| inner.install(run))),
                        }
                    })
                    .collect()
            });
            for (task, y) in outputs.iter().enumerate() {
                assert_same_bits(y, &want, &format!("{what}, task {task}"));
            }
        }
    });
}

/// This thread's x86 MXCSR control bits (rounding, masks, FTZ, DAZ), without the six sticky
/// status flags that any arithmetic may raise.
#[cfg(target_arch = "x86_64")]
fn mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: `stmxcsr` stores the 4-byte register at `value`'s address.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags))
    };
    value & !0x3f
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_forward_flushes_subnormals_and_leaves_the_callers_floating_point_mode_as_it_was() {
    let net = stride::zoo::EfficientNetB0::init(0);
    let x = Array4::from_shape_fn((1, 3, 64, 64), |(_, c, h, w)| {
        // A quarter of the input subnormal: read as zero while the kernels run.
        if (h + w) % 4 == 0 {
            1e-39
        } else {
            ((c * 5 + h * 3 + w) as f32 * 0.01).sin()
        }
    });
    let before = mxcsr();
    let flushed = net.forward(x.view()).unwrap();
    assert_eq!(mxcsr(), before, "the caller's mode is restored");
    let zeroed = x.mapv(|v| if v.is_subnormal() { 0.0 } else { v });
    assert_eq!(net.forward(zeroed.view()).unwrap(), flushed);
    // Off, the subnormals count (by less than the golden tolerance here).
    stride::runtime::set_flush_subnormals(false);
    let exact = net.forward(x.view());
    stride::runtime::set_flush_subnormals(true);
    let exact = exact.unwrap();
    assert!(
        exact
            .iter()
            .zip(&flushed)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + b.abs()))
    );
    assert_eq!(mxcsr(), before);
}
