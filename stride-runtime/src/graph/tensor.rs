//! What a layer stores: each tensor's name, shape and initial values, which loading, saving
//! and seeded initialisation all read.

/// One tensor a layer stores: its name after the layer's key, its shape, and how
/// [`Model::init`](super::Model::init) draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSpec {
    /// `"weight"`, `"bias"`, `"running_mean"`, `"running_var"`.
    pub name: &'static str,
    /// Its shape.
    pub shape: &'static [usize],
    /// Its initial values.
    pub init: InitRule,
}

impl TensorSpec {
    /// Its key in a checkpoint, for the layer keyed `layer` (after any prefix): `conv1.weight`,
    /// or the layer's key alone for a tensor without a name (ConvNeXt's `layer_scale`).
    ///
    /// ```
    /// use stride_runtime::graph::{InitRule, TensorSpec};
    ///
    /// let spec = TensorSpec { name: "weight", shape: &[8], init: InitRule::Ones };
    /// assert_eq!(spec.key("conv1"), "conv1.weight");
    /// ```
    pub fn key(&self, layer: &str) -> String {
        let dot = stride_geometry::tensor_key_separator(self.name);
        format!("{layer}{dot}{}", self.name)
    }
}

/// How a tensor is initialised from a seed, as torchvision initialises its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitRule {
    /// `N(0, 2 / fan_out)` with `fan_out = shape[0] * shape[2] * shape[3]`
    /// ([`Init::kaiming_normal_fan_out`](crate::init::Init::kaiming_normal_fan_out)).
    KaimingNormalFanOut,
    /// `U(-1/√fan_in, 1/√fan_in)`, PyTorch's default for linear layers (weight and bias).
    Uniform {
        /// The fan-in that sets the bound.
        fan_in: usize,
    },
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
}
