//! The network benchmark: whole torchvision networks (`stride::zoo`, seeded weights, fused) at
//! 224x224, timed at each batch size and thread count.
//!
//! ```text
//! cargo bench --bench networks                                   # every network, batch 1 and 8, 1 and 2 threads
//! cargo bench --bench networks -- --net resnet50 --batch 1 --threads 2
//! cargo bench --bench networks -- --export target/nets           # also writes <net>.onnx there
//! cargo bench --bench networks -- --net resnet50 --batch 1 --threads 2 --profile
//! cargo bench --bench networks -- --net resnet50 --batch 1 --threads 2 --memory
//! cargo bench --bench networks -- --serve                        # timings on request
//! ```
//!
//! `--profile` also prints, on standard error, where each forward spends its time: every
//! layer, fused convolution, residual add and join, the median of 20 runs
//! ([`Module::profile`](stride::runtime::graph::Module::profile)).
//!
//! `--memory` also prints, on standard error, what a forward allocates, counted by this
//! benchmark's global allocator: for the first four forwards, the most bytes allocated at once
//! above what was allocated before the call (the weights and the input excluded, the output and
//! the kernels' workspace included), the number of allocations and the minor page faults (on
//! Linux); then the network's
//! [`MemoryPlan`](stride::runtime::graph::MemoryPlan) for that input and the bytes of buffers
//! the network keeps for its next forward.
//!
//! With `--export DIR`, each network is also written to `DIR/<net>.onnx` (the fused graph, for
//! 224x224, the same seeded weights it is timed with), for `bench/compare_nets.sh` to time in
//! ONNX Runtime.
//!
//! Standard output has one JSON line per network, batch and thread count:
//!
//! ```text
//! {"net": "resnet18", "batch": 1, "threads": 2, "ms": 12.345, "images_per_s": 81.0}
//! ```
//!
//! `ms` is the median of one `forward` over repeated runs after a warm-up, each configuration
//! running for about [`BUDGET`]. Each thread count runs in its own rayon pool.
//!
//! With `--serve`, the benchmark first prints the configurations the other options select, in
//! order, as one JSON line (`{"plan": [{"net": "resnet18", "batch": 1, "threads": 1}, …]}`),
//! then times whatever configuration standard input asks for, a line `NET BATCH THREADS` at a
//! time, answering each with its JSON line, until standard input ends. `bench/compare_nets.py`
//! drives it so that stride and ONNX Runtime take turns on each configuration within seconds
//! of each other: this machine's speed at two threads changes over minutes, and two sides timed
//! minutes apart can be in different states.

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ndarray::Array4;
use stride::runtime::graph::Module;

#[path = "common/serve.rs"]
mod serve;

/// About how long each configuration runs, warm-up excluded.
const BUDGET: Duration = Duration::from_millis(1500);

/// At least this many timed runs, even past [`BUDGET`].
const MIN_RUNS: usize = 5;

/// The networks, by the name `--net` takes.
const NETS: [&str; 8] = [
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "googlenet",
    "densenet121",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "convnext_tiny",
];

fn main() -> Result<(), Box<dyn Error>> {
    let options = Options::parse(std::env::args().skip(1))?;
    if let Some(dir) = &options.export {
        std::fs::create_dir_all(dir)?;
        for net in &options.nets {
            export_net(net, &dir.join(format!("{net}.onnx")))?;
        }
    }
    if options.serve {
        return serve(&options);
    }
    for net in &options.nets {
        for &threads in &options.threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            for &batch in &options.batches {
                report(&pool, net, batch, &options)?;
            }
        }
    }
    Ok(())
}

/// Times `net` at `batch` on `pool` and prints its JSON line.
fn report(
    pool: &rayon::ThreadPool,
    net: &str,
    batch: usize,
    options: &Options,
) -> Result<(), Box<dyn Error>> {
    let threads = pool.current_num_threads();
    let ms = pool.install(|| time_net(net, batch, options).map_err(|e| e.to_string()))?;
    println!(
        "{{\"net\": \"{net}\", \"batch\": {batch}, \"threads\": {threads}, \"ms\": {ms:.3}, \"images_per_s\": {:.1}}}",
        batch as f64 * 1e3 / ms
    );
    std::io::stdout().flush()?;
    Ok(())
}

/// `--serve`: prints the plan, then times each `NET BATCH THREADS` line of standard input.
fn serve(options: &Options) -> Result<(), Box<dyn Error>> {
    let mut plan = Vec::new();
    for net in &options.nets {
        for threads in &options.threads {
            for batch in &options.batches {
                plan.push(format!(
                    "{{\"net\": \"{net}\", \"batch\": {batch}, \"threads\": {threads}}}"
                ));
            }
        }
    }
    serve::plan(&plan)?;
    serve::requests("NET BATCH THREADS", |[net, batch, _], pool| {
        if !NETS.contains(&net) {
            return Err(format!("no network `{net}`; the networks are {NETS:?}").into());
        }
        match batch.parse::<usize>() {
            Ok(batch) if batch > 0 => report(pool, net, batch, options),
            _ => Err(format!("batch `{batch}`: a whole number above 0").into()),
        }
    })
}

/// The median milliseconds of one forward of `net` on a batch of `batch`; with `--profile` and
/// `--memory`, its profile and its memory on standard error too.
fn time_net(net: &str, batch: usize, options: &Options) -> Result<f64, Box<dyn Error>> {
    let x = Array4::from_shape_fn((batch, 3, 224, 224), |(n, c, h, w)| {
        ((n * 3 + c) as f32 * 0.1 + h as f32 * 0.01 - w as f32 * 0.02).sin()
    });
    macro_rules! time {
        ($net:ty) => {{
            let net = <$net>::init(0);
            let threads = rayon::current_num_threads();
            if options.profile {
                eprintln!("== {} batch {batch}, {threads} threads", stringify!($net));
                eprintln!("{}", net.profile(x.view(), 20)?);
            }
            if options.memory {
                eprintln!(
                    "== {} batch {batch}, {threads} threads: memory",
                    stringify!($net)
                );
                memory(&net, &x)?;
            }
            median_ms(|| black_box(net.forward(black_box(x.view())).map(|_| ())))
        }};
    }
    match net {
        "resnet18" => time!(stride::zoo::ResNet18),
        "resnet50" => time!(stride::zoo::ResNet50),
        "mobilenet_v2" => time!(stride::zoo::MobileNetV2),
        "googlenet" => time!(stride::zoo::GoogLeNet),
        "densenet121" => time!(stride::zoo::DenseNet121),
        "mobilenet_v3_small" => time!(stride::zoo::MobileNetV3Small),
        "efficientnet_b0" => time!(stride::zoo::EfficientNetB0),
        "convnext_tiny" => time!(stride::zoo::ConvNeXtTiny),
        other => Err(format!("no network `{other}`; the networks are {NETS:?}").into()),
    }
}

/// Writes `net`, with the weights [`time_net`] draws, as an ONNX model for 224x224 inputs.
fn export_net(net: &str, path: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let options = stride::runtime::onnx::ExportOptions::default().input_size(224, 224);
    macro_rules! export {
        ($net:ty) => {{
            <$net>::init(0).save_onnx(path, &options)?;
            Ok(())
        }};
    }
    match net {
        "resnet18" => export!(stride::zoo::ResNet18),
        "resnet50" => export!(stride::zoo::ResNet50),
        "mobilenet_v2" => export!(stride::zoo::MobileNetV2),
        "googlenet" => export!(stride::zoo::GoogLeNet),
        "densenet121" => export!(stride::zoo::DenseNet121),
        "mobilenet_v3_small" => export!(stride::zoo::MobileNetV3Small),
        "efficientnet_b0" => export!(stride::zoo::EfficientNetB0),
        "convnext_tiny" => export!(stride::zoo::ConvNeXtTiny),
        other => Err(format!("no network `{other}`; the networks are {NETS:?}").into()),
    }
}

/// The system allocator, counting the bytes allocated now, the most at once, and the calls,
/// for `--memory`.
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

/// Prints what the first four forwards of `net` on `x` allocate, its memory plan, and what it
/// keeps between forwards (`--memory`).
fn memory(net: &impl Module, x: &Array4<f32>) -> Result<(), Box<dyn Error>> {
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    for call in 1..=4 {
        let before = LIVE.load(Relaxed);
        PEAK.store(before, Relaxed);
        CALLS.store(0, Relaxed);
        let faults = minor_faults();
        let y = net.run(x.view())?;
        let faults = minor_faults()
            .zip(faults)
            .map(|(after, before)| after - before);
        let peak = PEAK.load(Relaxed) - before;
        let calls = CALLS.load(Relaxed);
        drop(y);
        eprintln!(
            "forward {call}: peak {:.1} MiB above the weights and input, {calls} allocations, \
             {} minor page faults",
            mib(peak),
            faults.map_or("?".into(), |f| f.to_string())
        );
    }
    let (n, c, h, w) = x.dim();
    eprintln!("plan: {}", net.memory_plan([n, c, h, w])?);
    eprintln!(
        "kept between forwards: {:.1} MiB",
        mib(net.model().arena_bytes())
    );
    Ok(())
}

/// The process's minor page faults so far (Linux's `/proc/self/stat`), `None` elsewhere.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses: `minflt` is the 8th.
    let fields = &stat[stat.rfind(')')? + 2..];
    fields.split(' ').nth(7)?.parse().ok()
}

/// The median time of `run` in milliseconds: one warm-up call, then at least [`MIN_RUNS`]
/// calls and about [`BUDGET`] of them.
fn median_ms<E: Error + 'static>(
    mut run: impl FnMut() -> Result<(), E>,
) -> Result<f64, Box<dyn Error>> {
    run()?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_RUNS || start.elapsed() < BUDGET {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The command line: `--net NAME` (any number), `--batch 1,8`, `--threads 1,2`, `--export
/// DIR`, `--profile`, `--memory`, `--serve`. Cargo's own `--bench` flag is ignored.
struct Options {
    nets: Vec<String>,
    batches: Vec<usize>,
    threads: Vec<usize>,
    export: Option<std::path::PathBuf>,
    profile: bool,
    memory: bool,
    serve: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut options = Options {
            nets: Vec::new(),
            batches: vec![1, 8],
            threads: vec![1, 2],
            export: None,
            profile: false,
            memory: false,
            serve: false,
        };
        let list = |flag: &str, value: Option<String>| -> Result<Vec<usize>, Box<dyn Error>> {
            let value = value.ok_or(format!("{flag} needs a list such as 1,2"))?;
            let list = value
                .split(',')
                .map(|t| t.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{flag} {value}: {e}"))?;
            if list.contains(&0) {
                return Err(format!("{flag}: each value is at least 1").into());
            }
            Ok(list)
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {}
                "--profile" => options.profile = true,
                "--memory" => options.memory = true,
                "--serve" => options.serve = true,
                "--net" => options.nets.push(args.next().ok_or("--net needs a name")?),
                "--batch" => options.batches = list("--batch", args.next())?,
                "--threads" => options.threads = list("--threads", args.next())?,
                "--export" => {
                    options.export = Some(args.next().ok_or("--export needs a directory")?.into());
                }
                other => return Err(format!("unknown argument `{other}`").into()),
            }
        }
        if options.nets.is_empty() {
            options.nets = NETS.iter().map(|n| n.to_string()).collect();
        }
        if let Some(unknown) = options.nets.iter().find(|n| !NETS.contains(&n.as_str())) {
            return Err(format!("no network `{unknown}`; the networks are {NETS:?}").into());
        }
        Ok(options)
    }
}
