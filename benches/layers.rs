//! The layer benchmark: every layer of `layers.json` (the suite `bench/compare.py` times in ONNX
//! Runtime) built as the runtime's layer type and timed at each thread count.
//!
//! ```text
//! cargo bench --bench layers                                   # every layer, 1 and 2 threads
//! cargo bench --bench layers -- --threads 1 --layer maxpool3x3s2_64_112
//! cargo bench --bench layers -- --suite benches/layers_zoo.json     # another suite file
//! cargo bench --bench layers -- --serve                        # timings on request
//! ```
//!
//! Standard output has one JSON line per layer and thread count, the format `compare.py` reads:
//!
//! ```text
//! {"layer": "resnet_conv3x3_64_56", "threads": 1, "ms": 1.234, "gflops": 93.7, "peak_pct": 61.2}
//! ```
//!
//! - `ms`: the median of one `forward` over repeated runs after a warm-up, each layer running
//!   for about [`BUDGET`].
//! - `gflops`: `2 * MACs / time`, the MACs from the geometry crate's counting functions
//!   (`conv2d_macs` from the output size, `conv_transpose2d_macs` from the input size), times
//!   the batch. Pools and the elementwise layers (layer norm, the activations, the
//!   squeeze-excitation product) do no multiply-adds counted here: their `gflops` and
//!   `peak_pct` are 0, and their line on standard error gives the bandwidth they reach instead
//!   (input read + output written).
//! - `peak_pct`: `gflops` against the FMA peak of as many cores as threads, the single-core peak
//!   measured at startup by a loop of independent FMAs as wide as the GEMM's: AVX-512 where the
//!   kernels take that path, else AVX2 (0 on the scalar path, so `STRIDE_ISA=avx2` gives the
//!   AVX2 figures on a CPU with AVX-512).
//!
//! Standard error gets the rest, none of it on a line `compare.py` would read: the measured FMA
//! peak first (`{"fma_peak_gflops": …}`, JSON but on standard error), a line per layer for
//! people, and the peak memory of one forward of `vgg_conv3x3_64_224`, counted by the global
//! allocator below, next to the size of its input, output and weight.
//!
//! With `--serve`, the benchmark prints the layers and thread counts the other options select,
//! in order, as one JSON line (`{"plan": [{"layer": "…", "threads": 1}, …]}`), then times
//! whatever standard input asks for, a line `LAYER THREADS` at a time, answering each with its
//! JSON line, until standard input ends. `bench/compare.py` drives it so that stride and ONNX
//! Runtime take turns on each layer within a second of each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ndarray::{Array, Array4, Dimension, ShapeBuilder};
use serde_json::Value;
use stride::geometry::{Window, conv_output, conv_transpose2d_macs, conv2d_macs};
use stride::runtime::ops::{
    Activation, AvgPool2dParams, Conv2d, Conv2dParams, ConvTranspose2d, ConvTranspose2dParams,
    LayerNorm2d, MaxPool2dParams, avg_pool2d, max_pool2d, scale_channels,
};
use stride::runtime::{Padding2d, Result as StrideResult};

#[path = "common/serve.rs"]
mod serve;

/// The default suite, the same file `compare.py` reads by default. `--suite FILE` reads another
/// in the same format, such as `layers_zoo.json` (more sizes of every shape class, taken from
/// the zoo's networks) or `layers_more.json` (shapes that kernel changes were measured on
/// beyond those two files: ResNet-50's 1x1 layers on 56x56 and 28x28, sub-pixel transposed
/// convolutions).
const SUITE: &str = include_str!("layers.json");

/// About how long each layer runs at each thread count, warm-up excluded.
const BUDGET: Duration = Duration::from_millis(500);

/// At least this many timed runs, even past [`BUDGET`] for a slow layer.
const MIN_RUNS: usize = 3;

/// The layer whose peak memory is reported.
const MEMORY_LAYER: &str = "vgg_conv3x3_64_224";

fn main() -> Result<(), Box<dyn Error>> {
    let options = Options::parse(std::env::args().skip(1))?;
    let (suite_name, text) = match &options.suite {
        Some(path) => (
            path.clone(),
            std::fs::read_to_string(path).map_err(|e| format!("--suite {path}: {e}"))?,
        ),
        None => ("layers.json".to_string(), SUITE.to_string()),
    };
    let suite: Value = serde_json::from_str(&text).map_err(|e| format!("{suite_name}: {e}"))?;
    let layers: Vec<Layer> = suite["layers"]
        .as_array()
        .ok_or_else(|| format!("{suite_name}: no `layers` array"))?
        .iter()
        .map(Layer::parse)
        .collect::<Result<_, _>>()?;
    let selected: Vec<&Layer> = layers
        .iter()
        .filter(|l| options.layers.is_empty() || options.layers.contains(&l.name))
        .collect();
    if let Some(unknown) = options
        .layers
        .iter()
        .find(|name| !layers.iter().any(|l| &l.name == *name))
    {
        return Err(format!("no layer `{unknown}` in {suite_name}").into());
    }

    let peak = fma_peak_gflops();
    eprintln!("{{\"fma_peak_gflops\": {peak:.1}}}");

    if options.serve {
        return serve(&options, &selected, &layers, peak);
    }

    if let Some(layer) = selected.iter().find(|l| l.name == MEMORY_LAYER) {
        report_memory(layer)?;
    }

    for &threads in &options.threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        for layer in &selected {
            report(&pool, layer, peak)?;
        }
    }
    Ok(())
}

/// Times `layer` on `pool` and prints its JSON line on standard output and its line for people
/// on standard error; `peak` is the single-core FMA peak in GFLOP/s.
fn report(pool: &rayon::ThreadPool, layer: &Layer, peak: f64) -> Result<(), Box<dyn Error>> {
    let threads = pool.current_num_threads();
    let Timing { ms, bytes_moved } = pool.install(|| time_layer(layer))?;
    let gflops = layer.flops() as f64 / (ms * 1e6);
    let peak_pct = if peak > 0.0 {
        100.0 * gflops / (peak * threads as f64)
    } else {
        0.0
    };
    println!(
        "{{\"layer\": {}, \"threads\": {threads}, \"ms\": {ms:.4}, \"gflops\": {gflops:.2}, \"peak_pct\": {peak_pct:.1}}}",
        serde_json::to_string(&layer.name)?
    );
    std::io::stdout().flush()?;
    let gb_per_s = bytes_moved as f64 / (ms * 1e6);
    eprintln!(
        "{:28} threads={threads} {ms:9.3} ms  {gflops:7.2} GFLOP/s  {gb_per_s:6.2} GB/s in+out",
        layer.name
    );
    Ok(())
}

/// `--serve`: prints the plan (`selected` at each thread count), then times each `LAYER
/// THREADS` line of standard input, the layer by its name in the suite `layers`.
fn serve(
    options: &Options,
    selected: &[&Layer],
    layers: &[Layer],
    peak: f64,
) -> Result<(), Box<dyn Error>> {
    let mut plan = Vec::new();
    for &threads in &options.threads {
        for layer in selected {
            let name = serde_json::to_string(&layer.name)?;
            plan.push(format!("{{\"layer\": {name}, \"threads\": {threads}}}"));
        }
    }
    serve::plan(&plan)?;
    serve::requests("LAYER THREADS", |[name, _], pool| {
        let layer = layers
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| format!("no layer `{name}` in the suite"))?;
        report(pool, layer, peak)
    })
}

/// The command line: `--threads 1,2`, `--suite FILE`, any number of `--layer NAME`, and
/// `--serve`.
/// Cargo's own `--bench` flag is ignored.
struct Options {
    threads: Vec<usize>,
    layers: Vec<String>,
    suite: Option<String>,
    serve: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, Box<dyn Error>> {
        let mut options = Options {
            threads: vec![1, 2],
            layers: Vec::new(),
            suite: None,
            serve: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => {}
                "--serve" => options.serve = true,
                "--threads" => {
                    let list = args.next().ok_or("--threads needs a list such as 1,2")?;
                    options.threads = list
                        .split(',')
                        .map(|t| t.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .map_err(|e| format!("--threads {list}: {e}"))?;
                    if options.threads.contains(&0) {
                        return Err("--threads: a thread count is at least 1".into());
                    }
                }
                "--layer" => options
                    .layers
                    .push(args.next().ok_or("--layer needs a layer name")?),
                "--suite" => {
                    options.suite = Some(args.next().ok_or("--suite needs a file")?);
                }
                other => {
                    return Err(format!(
                        "unknown argument `{other}`; usage: layers [--threads 1,2] [--suite FILE] [--layer NAME]... [--serve]"
                    )
                    .into());
                }
            }
        }
        Ok(options)
    }
}

/// One layer of the suite.
struct Layer {
    name: String,
    op: Op,
    /// `[N, Cin, H, W]`.
    input: [usize; 4],
}

/// What a layer computes, with the numbers the runtime's types take.
enum Op {
    Conv2d {
        cout: usize,
        kernel: [usize; 2],
        /// The symmetric padding, as a number for the MAC count.
        padding: [usize; 2],
        params: Conv2dParams,
    },
    ConvTranspose2d {
        cout: usize,
        kernel: [usize; 2],
        params: ConvTranspose2dParams,
    },
    MaxPool2d(MaxPool2dParams),
    AvgPool2d(AvgPool2dParams),
    /// ConvNeXt's channel layer norm.
    LayerNorm2d {
        eps: f32,
    },
    /// An activation on its own, into a new array (`Activation::map`, what `ops::gelu` is).
    Activation(Activation),
    /// The squeeze-excitation product with a `[N, C, 1, 1]` gate, into a new array.
    ScaleChannels,
}

/// A layer built for timing: the weights packed as a layer holds them, and its input.
enum Built {
    Conv2d(Conv2d),
    ConvTranspose2d(ConvTranspose2d),
    MaxPool2d(MaxPool2dParams),
    AvgPool2d(AvgPool2dParams),
    LayerNorm2d(LayerNorm2d),
    Activation(Activation),
    /// The gate.
    ScaleChannels(Array4<f32>),
}

impl Built {
    fn forward(&self, x: &Array4<f32>) -> StrideResult<Array4<f32>> {
        match self {
            Built::Conv2d(conv) => conv.forward(x.view()),
            Built::ConvTranspose2d(conv) => conv.forward(x.view()),
            Built::MaxPool2d(params) => max_pool2d(x.view(), params),
            Built::AvgPool2d(params) => avg_pool2d(x.view(), params),
            Built::LayerNorm2d(norm) => norm.forward(x.view()),
            Built::Activation(activation) => activation.map(x.view()),
            Built::ScaleChannels(gate) => scale_channels(x.view(), gate.view()),
        }
    }
}

impl Layer {
    fn parse(v: &Value) -> Result<Self, Box<dyn Error>> {
        let name = v["name"]
            .as_str()
            .ok_or("a layer without a name")?
            .to_owned();
        let int = |key: &str| -> Result<usize, Box<dyn Error>> {
            Ok(v[key]
                .as_u64()
                .ok_or_else(|| format!("{name}: `{key}` is not an integer"))?
                as usize)
        };
        let pair = |key: &str| -> Result<[usize; 2], Box<dyn Error>> {
            let p = |i: usize| {
                v[key][i]
                    .as_u64()
                    .map(|x| x as usize)
                    .ok_or_else(|| format!("{name}: `{key}` is not a pair of integers"))
            };
            Ok([p(0)?, p(1)?])
        };
        let flag = |key: &str| -> Result<bool, Box<dyn Error>> {
            Ok(v[key]
                .as_bool()
                .ok_or_else(|| format!("{name}: `{key}` is not a bool"))?)
        };
        let input = [int("n")?, int("cin")?, int("h")?, int("w")?];
        let op = match v["op"].as_str() {
            Some("conv2d") => Op::Conv2d {
                cout: int("cout")?,
                kernel: pair("k")?,
                padding: pair("p")?,
                params: Conv2dParams::default()
                    .stride(pair("s")?)
                    .padding(Padding2d::from(pair("p")?))
                    .dilation(pair("d")?)
                    .groups(int("groups")?),
            },
            Some("conv_transpose2d") => Op::ConvTranspose2d {
                cout: int("cout")?,
                kernel: pair("k")?,
                params: ConvTranspose2dParams::default()
                    .stride(pair("s")?)
                    .padding(pair("p")?)
                    .dilation(pair("d")?)
                    .output_padding(pair("output_padding")?)
                    .groups(int("groups")?),
            },
            Some("max_pool2d") => Op::MaxPool2d(
                MaxPool2dParams::new(pair("k")?)
                    .stride(pair("s")?)
                    .padding(Padding2d::from(pair("p")?))
                    .dilation(pair("d")?)
                    .ceil_mode(flag("ceil_mode")?),
            ),
            Some("avg_pool2d") => Op::AvgPool2d(
                AvgPool2dParams::new(pair("k")?)
                    .stride(pair("s")?)
                    .padding(Padding2d::from(pair("p")?))
                    .ceil_mode(flag("ceil_mode")?)
                    .count_include_pad(flag("count_include_pad")?),
            ),
            Some("layer_norm2d") => Op::LayerNorm2d {
                eps: v["eps"]
                    .as_f64()
                    .ok_or_else(|| format!("{name}: `eps` is not a number"))?
                    as f32,
            },
            Some("gelu") => Op::Activation(Activation::Gelu),
            Some("hardswish") => Op::Activation(Activation::Hardswish),
            Some("silu") => Op::Activation(Activation::Silu),
            Some("scale_channels") => Op::ScaleChannels,
            other => return Err(format!("{name}: unknown op {other:?}").into()),
        };
        Ok(Layer { name, op, input })
    }

    /// The layer with random weights (no bias for a convolution, as the ONNX graphs of
    /// `compare.py`), and a random input.
    fn build(&self) -> StrideResult<(Built, Array4<f32>)> {
        let [n, cin, _, _] = self.input;
        let built = match &self.op {
            Op::Conv2d {
                cout,
                kernel,
                params,
                ..
            } => {
                let weight = random((*cout, cin / params.groups, kernel[0], kernel[1]), 1, 0.05);
                Built::Conv2d(Conv2d::new(weight, None, *params)?)
            }
            Op::ConvTranspose2d {
                cout,
                kernel,
                params,
            } => {
                let weight = random((cin, cout / params.groups, kernel[0], kernel[1]), 1, 0.05);
                Built::ConvTranspose2d(ConvTranspose2d::new(weight, None, *params)?)
            }
            Op::MaxPool2d(params) => Built::MaxPool2d(*params),
            Op::AvgPool2d(params) => Built::AvgPool2d(*params),
            Op::LayerNorm2d { eps } => Built::LayerNorm2d(LayerNorm2d::new(
                random(cin, 3, 1.0) + 1.0,
                random(cin, 4, 0.5),
                *eps,
            )?),
            Op::Activation(activation) => Built::Activation(*activation),
            Op::ScaleChannels => Built::ScaleChannels(random((n, cin, 1, 1), 5, 0.5) + 0.5),
        };
        Ok((built, random(self.input, 2, 1.0)))
    }

    /// Floating-point operations of one forward: `2 * MACs` for the whole batch, 0 for a pool.
    fn flops(&self) -> u64 {
        let [n, cin, h, w] = self.input;
        let macs = match &self.op {
            Op::Conv2d {
                cout,
                kernel,
                padding,
                params,
            } => {
                let window = |a: usize| {
                    Window::new(kernel[a])
                        .stride(params.stride.0[a])
                        .dilation(params.dilation.0[a])
                        .padding(padding[a])
                };
                let output = [
                    conv_output(h, window(0)).expect("a valid suite layer"),
                    conv_output(w, window(1)).expect("a valid suite layer"),
                ];
                conv2d_macs(cin, *cout, params.groups, *kernel, output)
                    .expect("a valid suite layer")
            }
            Op::ConvTranspose2d {
                cout,
                kernel,
                params,
            } => conv_transpose2d_macs(cin, *cout, params.groups, *kernel, [h, w])
                .expect("a valid suite layer"),
            Op::MaxPool2d(_)
            | Op::AvgPool2d(_)
            | Op::LayerNorm2d { .. }
            | Op::Activation(_)
            | Op::ScaleChannels => 0,
        };
        2 * macs * n as u64
    }
}

/// One layer's time at one thread count.
struct Timing {
    /// The median milliseconds of one forward.
    ms: f64,
    /// Bytes of the input read and the output written by one forward (weights not counted).
    bytes_moved: usize,
}

/// Times `layer`'s forward on the current rayon pool.
fn time_layer(layer: &Layer) -> StrideResult<Timing> {
    let (built, x) = layer.build()?;
    // Warm-up: caches, the allocator's free lists and rayon's threads.
    let warm = Instant::now();
    let y = built.forward(&x)?;
    let bytes_moved = 4 * (x.len() + y.len());
    drop(y);
    while warm.elapsed() < BUDGET / 5 {
        black_box(built.forward(&x)?);
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_RUNS || start.elapsed() < BUDGET {
        let t = Instant::now();
        black_box(built.forward(black_box(&x))?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(Timing {
        ms: times[times.len() / 2],
        bytes_moved,
    })
}

/// Prints the peak memory of one forward of `layer` on one thread: the most bytes live at once
/// above what was live before the call, next to the bytes of its input, output and weight.
fn report_memory(layer: &Layer) -> Result<(), Box<dyn Error>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> Result<(), Box<dyn Error + Send + Sync>> {
        let (built, x) = layer.build()?;
        let weight = match &built {
            Built::Conv2d(conv) => conv.weight().len(),
            Built::ConvTranspose2d(conv) => conv.weight().len(),
            Built::LayerNorm2d(norm) => 2 * norm.channels(),
            Built::ScaleChannels(gate) => gate.len(),
            Built::MaxPool2d(_) | Built::AvgPool2d(_) | Built::Activation(_) => 0,
        };
        // One forward first, so that lazily allocated state (rayon's, the allocator's) is not
        // counted as the layer's.
        drop(built.forward(&x)?);
        let before = ALLOCATOR.reset_peak();
        let y = built.forward(&x)?;
        let peak = ALLOCATOR.peak() - before;
        let tensors = 4 * (x.len() + y.len() + weight);
        let mib = |b: usize| b as f64 / (1 << 20) as f64;
        eprintln!(
            "peak memory of one {} forward: {:.2} MiB allocated at once ({} bytes); input + output + weight = {:.2} MiB ({} bytes); ratio {:.2}",
            layer.name,
            mib(peak),
            peak,
            mib(tensors),
            tensors,
            peak as f64 / tensors as f64
        );
        Ok(())
    })
    .map_err(|e| e as Box<dyn Error>)
}

/// Reproducible values in `[-scale, scale)`, different for each `seed`.
fn random<D: Dimension>(shape: impl ShapeBuilder<Dim = D>, seed: u64, scale: f32) -> Array<f32, D> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array::from_shape_simple_fn(shape, || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    })
}

/// Single-core FMA throughput in GFLOP/s of the vector width the GEMM runs on: independent
/// AVX-512 FMA chains where the kernels take their AVX-512 path, AVX2 ones where they take
/// their AVX2 path, for about 50 ms (0 on the scalar path).
fn fma_peak_gflops() -> f64 {
    let Some((chains, lanes)) = fma_loop() else {
        return 0.0;
    };
    // Calibrate the iteration count on a short run, then time about 50 ms; the best of 3.
    let mut iterations = 10_000u64;
    loop {
        let t = Instant::now();
        black_box(chains(iterations));
        if t.elapsed() >= Duration::from_millis(5) {
            break;
        }
        iterations *= 2;
    }
    iterations *= 10;
    let best = (0..3)
        .map(|_| {
            let t = Instant::now();
            black_box(chains(iterations));
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    // A multiply and an add per lane of each chain.
    (iterations * CHAINS as u64 * lanes * 2) as f64 / best / 1e9
}

/// An FMA loop (run for a number of iterations) and its lanes per FMA.
type FmaLoop = (fn(u64) -> f32, u64);

/// The FMA loop of the path the kernels take ([`fma_chains`] or [`fma_chains_512`]); `None` on
/// the scalar path.
#[cfg(target_arch = "x86_64")]
fn fma_loop() -> Option<FmaLoop> {
    use stride::runtime::simd::{avx2_fma, avx512};
    if avx512() {
        // SAFETY: `avx512` is true only where the CPU has AVX-512F (and AVX2 and FMA).
        Some((|n| unsafe { fma_chains_512(n) }, 16))
    } else if avx2_fma() {
        // SAFETY: `avx2_fma` is true only where the CPU has AVX2 and FMA.
        Some((|n| unsafe { fma_chains(n) }, 8))
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_loop() -> Option<FmaLoop> {
    None
}

/// Accumulators of [`fma_chains`] and [`fma_chains_512`]: more than an FMA's latency (4
/// cycles) times the FMAs per cycle (2 on Zen 3 to 5), so the chains never wait on each other.
const CHAINS: usize = 12;

/// `iterations` rounds of one FMA on each of [`CHAINS`] independent 8-lane accumulators.
///
/// # Safety
///
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(iterations: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (black_box(0.999_999_9f32), black_box(1e-7f32));
    let (a, b) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iterations {
        for v in &mut acc {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
    let mut lanes = [0.0f32; 8];
    // SAFETY: a store of 8 floats into a local array of 8.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

/// [`fma_chains`] on 16-lane AVX-512 accumulators.
///
/// # Safety
///
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_512(iterations: u64) -> f32 {
    use std::arch::x86_64::*;
    let (a, b) = (black_box(0.999_999_9f32), black_box(1e-7f32));
    let (a, b) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..iterations {
        for v in &mut acc {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v));
    _mm512_reduce_add_ps(sum)
}

/// The system allocator, counting the bytes live now and the most live at once since the last
/// [`CountingAllocator::reset_peak`].
struct CountingAllocator {
    live: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator {
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

impl CountingAllocator {
    /// Starts a new peak at the bytes live now, and returns them.
    fn reset_peak(&self) -> usize {
        let live = self.live.load(Ordering::SeqCst);
        self.peak.store(live, Ordering::SeqCst);
        live
    }

    /// The most bytes live at once since the last reset.
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn grew(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(live, Ordering::SeqCst);
    }
}

// SAFETY: every call goes to the system allocator with the caller's arguments unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is the system's, with this layout.
        unsafe { System.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract on `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.live.fetch_sub(layout.size(), Ordering::SeqCst);
            self.grew(new_size);
        }
        p
    }
}
