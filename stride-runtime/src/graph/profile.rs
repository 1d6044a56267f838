//! Where a forward spends its time: each step of the executor's walk timed on its own, as
//! PyTorch's profiler or ONNX Runtime's `enable_profiling` report it.
//!
//! A step is what the executor runs as one call: a layer, a fused convolution (with its batch
//! norm, activation and any residual add folded in), an expansion and its depthwise layer or a
//! stem and its max pool run as one, a residual add left on its own, a squeeze-excitation
//! multiply, a concat's join, or a network from another invocation.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Graph, MemoryPlan};
use crate::Result;

/// The median time of each step of a forward over several runs, in the order the steps run:
/// [`Module::profile`](super::Module::profile) gives one, and it displays as a table (ResNet-18's first steps):
///
/// ```text
/// layer           kind                                     output       ms   share
/// conv1           conv2d 7x7/2 + max_pool2d 3x3/2 fused  [1, 64, 56, 56]    1.546  10.4%
/// layer1.0.conv1  conv2d 3x3/1 fused                     [1, 64, 56, 56]    0.681   4.6%
/// …
/// forward: … ms at batch 1 (median of 20 runs)
/// memory: ResNet18 at [1, 3, 224, 224]: … values, … MiB live at most, arena … MiB; buffers kept between forwards … MiB
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The batch the forward ran on.
    pub batch: usize,
    /// How many timed runs each median is over (after one untimed warm-up).
    pub runs: usize,
    /// One entry per step.
    pub steps: Vec<Step>,
    /// The median time of the whole forward, steps and what joins them.
    pub total: Duration,
    /// What the forward needs in memory, planned from the shapes.
    pub memory: MemoryPlan,
    /// The bytes of the buffers the network kept for its next forward after the last run
    /// ([`Model::arena_bytes`](super::Model::arena_bytes)).
    pub arena_bytes: usize,
}

/// One step of a [`Profile`].
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The layer's key (for a fused convolution, the convolution's), or the graph's name for
    /// the steps that join branches.
    pub key: &'static str,
    /// What ran: the summary's kind (`"conv2d 3x3/2"`), `"… fused"` for a fused
    /// convolution, `"… fused + add"` when it adds a residual as it writes, `"1x1 +
    /// depthwise fused"`, `"conv2d 7x7/2 + max_pool2d 3x3/2 fused"` for a convolution and the
    /// max pool after it run as one, `"add"`, `"scale"`, `"concat"` or `"network"`.
    pub kind: String,
    /// The shape it produced, batch first.
    pub output: Vec<usize>,
    /// Its median time.
    pub time: Duration,
}

impl Profile {
    /// The `n` slowest steps, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<&Step> {
        let mut steps: Vec<&Step> = self.steps.iter().collect();
        steps.sort_by_key(|s| std::cmp::Reverse(s.time));
        steps.truncate(n);
        steps
    }
}

impl fmt::Display for Profile {
    /// A table of the steps in order, with each one's share of the whole forward.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.total.as_secs_f64() * 1e3;
        let key_width = self
            .steps
            .iter()
            .map(|s| s.key.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let kind_width = self
            .steps
            .iter()
            .map(|s| s.kind.len())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(
            f,
            "{:key_width$}  {:kind_width$}  {:>20}  {:>9}  {:>6}",
            "layer", "kind", "output", "ms", "share"
        )?;
        for step in &self.steps {
            let ms = step.time.as_secs_f64() * 1e3;
            let share = if total_ms > 0.0 {
                100.0 * ms / total_ms
            } else {
                0.0
            };
            writeln!(
                f,
                "{:key_width$}  {:kind_width$}  {:>20}  {ms:>9.3}  {share:>5.1}%",
                step.key,
                step.kind,
                format!("{:?}", step.output),
            )?;
        }
        writeln!(
            f,
            "forward: {total_ms:.3} ms at batch {} (median of {} runs)",
            self.batch, self.runs
        )?;
        write!(
            f,
            "memory: {}; buffers kept between forwards {:.1} MiB",
            self.memory,
            self.arena_bytes as f64 / (1024.0 * 1024.0)
        )
    }
}

/// The steps of one run, as the executor reports them (from the thread the walk runs on,
/// which may be a pool's rather than the caller's).
#[derive(Default)]
pub(super) struct Recorder {
    steps: Mutex<Vec<Step>>,
}

impl Recorder {
    /// Runs `step`, and records it under `key` and `kind` with the shape it returns.
    pub(super) fn time<T>(
        &self,
        key: &'static str,
        kind: impl FnOnce() -> String,
        step: impl FnOnce() -> Result<T>,
        shape: impl FnOnce(&T) -> Vec<usize>,
    ) -> Result<T> {
        let start = Instant::now();
        let value = step()?;
        let time = start.elapsed();
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.push(Step {
            key,
            kind: kind(),
            output: shape(&value),
            time,
        });
        Ok(value)
    }
}

impl Recorder {
    /// The steps recorded, in order.
    pub(super) fn into_steps(self) -> Vec<Step> {
        self.steps.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// The profile of `runs` recorded runs (`totals` their whole times): step by step, the median
/// over runs; the runs took the same steps, since the graph and the input are the same.
pub(super) fn profile(
    runs: Vec<Vec<Step>>,
    mut totals: Vec<Duration>,
    memory: MemoryPlan,
    arena_bytes: usize,
) -> Profile {
    Profile {
        batch: memory.input[0],
        runs: runs.len(),
        steps: medians(runs),
        total: median(&mut totals),
        memory,
        arena_bytes,
    }
}

fn medians(mut runs: Vec<Vec<Step>>) -> Vec<Step> {
    let Some(first) = runs.pop() else {
        return Vec::new();
    };
    first
        .into_iter()
        .enumerate()
        .map(|(i, mut step)| {
            let mut times: Vec<Duration> = runs
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.time)
                .collect();
            times.push(step.time);
            step.time = median(&mut times);
            step
        })
        .collect()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

impl Graph {
    /// The summary's kind of layer `index`.
    pub(super) fn kind(&self, index: usize) -> &'static str {
        self.rows
            .get(self.layers[index].row)
            .map_or("layer", |row| row.kind)
    }
}
