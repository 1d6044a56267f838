//! The memory of a forward, measured and planned: a zoo network (seeded weights, fused) runs
//! on one batch at 224x224 under a global allocator that counts, and prints, for its first
//! forward and the ones after, the most bytes allocated at once above what was allocated
//! before the call (the weights and the input excluded; the output and the kernels'
//! workspace included) and how many allocations the call made; then the network's
//! [`MemoryPlan`](stride::runtime::graph::MemoryPlan) for that input and the bytes its arena
//! keeps between forwards.
//!
//! ```text
//! cargo run --release --example memory                     # ResNet-50, batch 1
//! cargo run --release --example memory -- mobilenet_v2 8
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use ndarray::Array4;
use stride::runtime::graph::Module;

/// The system allocator, counting the bytes allocated now, the most at once, and the calls.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn grew(size: usize) {
        let live = LIVE.fetch_add(size, Relaxed) + size;
        PEAK.fetch_max(live, Relaxed);
        CALLS.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            Counting::grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Counting::grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            Counting::grew(new_size);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let net = args.next().unwrap_or_else(|| "resnet50".into());
    let batch: usize = args.next().map_or(Ok(1), |b| b.parse())?;
    macro_rules! measure {
        ($net:ty) => {
            measure(&<$net>::init(0), batch)
        };
    }
    match net.as_str() {
        "resnet18" => measure!(stride::zoo::ResNet18),
        "resnet50" => measure!(stride::zoo::ResNet50),
        "mobilenet_v2" => measure!(stride::zoo::MobileNetV2),
        "googlenet" => measure!(stride::zoo::GoogLeNet),
        "densenet121" => measure!(stride::zoo::DenseNet121),
        "efficientnet_b0" => measure!(stride::zoo::EfficientNetB0),
        "convnext_tiny" => measure!(stride::zoo::ConvNeXtTiny),
        other => Err(format!("no network `{other}`").into()),
    }
}

fn measure(net: &impl Module, batch: usize) -> Result<(), Box<dyn Error>> {
    let x = Array4::from_shape_fn((batch, 3, 224, 224), |(n, c, h, w)| {
        ((n * 3 + c) as f32 * 0.1 + h as f32 * 0.01 - w as f32 * 0.02).sin()
    });
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    for call in 1..=4 {
        let before = LIVE.load(Relaxed);
        PEAK.store(before, Relaxed);
        CALLS.store(0, Relaxed);
        let y = net.run(x.view())?;
        let peak = PEAK.load(Relaxed) - before;
        let calls = CALLS.load(Relaxed);
        drop(y);
        println!(
            "forward {call}: peak {:.1} MiB above the weights and input, {calls} allocations",
            mib(peak)
        );
    }
    let plan = net.memory_plan([batch, 3, 224, 224])?;
    println!("plan: {plan}");
    println!(
        "arena kept between forwards: {:.1} MiB",
        mib(net.model().arena_bytes())
    );
    Ok(())
}
