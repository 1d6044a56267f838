//! What every generated network is to the runtime: a [`Model`] for its own layers, plus the
//! networks from other invocations it runs as layers. Running, saving and fusing a network are
//! the provided methods of [`Module`]; loading and initialising it are [`from_weights`] and
//! [`init`], over [`Build`].

use ndarray::ArrayView4;

use super::value::Value;
use super::{Graph, MemoryPlan, Model, Profile};
use crate::Result;
use crate::weights::{LoadError, LoadOptions, Loader, SaveError, Saver, Weights};

/// A network the runtime can run: its own layers' [`Model`], and the networks from other
/// invocations that its graph runs as layers, in the order of [`Graph::externals`].
///
/// `network!` implements it for every network it declares; the provided methods are what the
/// generated `forward`, `save_safetensors`, `fuse`, `unfuse` and `is_fused` call. A network is
/// shared between threads (`Sync`): a forward runs on the pool its kernels use.
pub trait Module: Sync {
    /// The weights of the network's own layers.
    fn model(&self) -> &Model;

    /// The same, to change.
    fn model_mut(&mut self) -> &mut Model;

    /// The networks from other invocations it runs, in the graph's order.
    fn externals(&self) -> Vec<&dyn Module> {
        Vec::new()
    }

    /// The same, to change.
    fn externals_mut(&mut self) -> Vec<&mut dyn Module> {
        Vec::new()
    }

    /// The network's graph.
    fn graph(&self) -> &'static Graph {
        self.model().graph()
    }

    /// Runs the network on a batch `[N, C, H, W]` of any size `N`.
    ///
    /// # Errors
    /// An input whose `C`, `H` or `W` is not the network's.
    fn run<'a>(&self, input: ArrayView4<'a, f32>) -> Result<Value<'a>> {
        self.model().run(&self.externals(), input)
    }

    /// Times each step of a forward on `input` (each layer, fused convolution, residual add,
    /// join), the median of `runs` runs after a warm-up; displays as a table.
    ///
    /// # Errors
    /// As [`Module::run`], and `runs == 0`.
    fn profile(&self, input: ArrayView4<f32>, runs: usize) -> Result<Profile> {
        self.model().profile(&self.externals(), input, runs)
    }

    /// What a forward on an input of shape `input` (`[N, C, H, W]`) needs in memory: each
    /// value it makes, the steps it lives over, and its offset in one block
    /// ([`MemoryPlan::arena_bytes`]).
    ///
    /// # Errors
    /// An input shape [`Module::run`] refuses.
    fn memory_plan(&self, input: [usize; 4]) -> Result<MemoryPlan> {
        self.model().memory_plan(&self.externals(), input)
    }

    /// Runs the network on what the previous node of another network produced.
    ///
    /// # Errors
    /// An input that is flat, or whose `C`, `H` or `W` is not the network's.
    fn run_value<'a>(&self, input: Value<'a>) -> Result<Value<'a>> {
        self.model().run_value(&self.externals(), input)
    }

    /// Adds every tensor to `saver` under `prefix` (empty, or ending in a dot), the external
    /// networks' under their keys.
    ///
    /// # Errors
    /// A key the saver already holds.
    fn save_to(&self, saver: &mut Saver, prefix: &str) -> Result<(), SaveError> {
        self.model().save(saver, prefix)?;
        for (external, spec) in self.externals().into_iter().zip(self.graph().externals) {
            external.save_to(saver, &format!("{prefix}{}.", spec.key))?;
        }
        Ok(())
    }

    /// Fuses every group, the external networks' included.
    ///
    /// # Errors
    /// A batch norm whose width is not its convolution's output channels, which only a layer
    /// replaced through an accessor can cause.
    fn fuse(&mut self) -> Result<()> {
        self.model_mut().fuse()?;
        for external in self.externals_mut() {
            external.fuse()?;
        }
        Ok(())
    }

    /// Undoes [`Module::fuse`].
    fn unfuse(&mut self) {
        self.model_mut().unfuse();
        for external in self.externals_mut() {
            external.unfuse();
        }
    }

    /// Whether the network runs its fused layers: its own groups', or for a network without
    /// groups, its first external network's.
    fn is_fused(&self) -> bool {
        match self.model().is_fused() {
            Some(fused) => fused,
            None => self.externals().first().is_some_and(|e| e.is_fused()),
        }
    }
}

/// A [`Module`] that can build itself: its own [`Model`] and its external networks.
pub trait Build: Module + Sized {
    /// Takes every tensor under `prefix` from `loader`, which records what is missing or
    /// wrong; `Ok(None)` if anything was.
    ///
    /// # Errors
    /// Tensors that load but do not make a valid layer.
    fn take(loader: &mut Loader<'_>, prefix: &str) -> Result<Option<Self>>;

    /// Weights drawn from `seed`, unfused.
    fn seeded(seed: u64) -> Self;
}

/// Builds a network from opened weights, strictly or not, fused or not, as `options` say.
///
/// # Errors
/// Every missing key, unexpected key, wrong shape and wrong dtype at once; tensors that do not
/// make a valid layer.
pub fn from_weights<N: Build>(weights: &Weights, options: &LoadOptions) -> Result<N, LoadError> {
    let mut loader = Loader::new(weights, options);
    let network = N::take(&mut loader, "");
    loader.finish()?;
    let Some(mut network) = network? else {
        return Err(LoadError::Layer(crate::Error::Param {
            op: "load",
            message: "a layer took no tensor but reported no problem".into(),
        }));
    };
    if options.fuse {
        Module::fuse(&mut network)?;
    } else {
        Module::unfuse(&mut network);
    }
    Ok(network)
}

/// A network with weights drawn from `seed`, as torchvision initialises its models, fused.
///
/// # Panics
/// When the graph's fusion groups do not fit its layers, which only a hand-made graph can
/// cause.
pub fn init<N: Build>(seed: u64) -> N {
    let mut network = N::seeded(seed);
    if let Err(e) = Module::fuse(&mut network) {
        panic!(
            "{}: the seeded layers do not fuse: {e}",
            network.graph().name
        );
    }
    network
}
