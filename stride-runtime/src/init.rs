//! Deterministic initialisation from a seed, with the distributions torchvision uses.
//!
//! A network built without a checkpoint still needs weights: [`Init`] draws them from the same
//! distributions as torchvision's models (Kaiming-normal convolutions, PyTorch's default
//! linear layers, batch norm at identity), so a freshly initialised stride network trains and
//! behaves like a freshly initialised PyTorch one.
//!
//! The values are not PyTorch's: PyTorch's generator (a Mersenne Twister with its own normal
//! sampler) is not reproduced, only the distributions. They are reproducible: the same seed
//! gives the same values on every run. The generator is xoshiro256** seeded through
//! SplitMix64, with Box–Muller normals, in a few lines and without a dependency.
//!
//! ```
//! use stride_runtime::init::Init;
//!
//! let mut init = Init::new(42);
//! let conv1 = init.kaiming_normal_fan_out([64, 3, 7, 7]);
//! let (fc_w, fc_b) = init.linear_default(10, 512);
//! assert_eq!(conv1.dim(), (64, 3, 7, 7));
//! assert_eq!((fc_w.dim(), fc_b.len()), ((10, 512), 10));
//! assert_eq!(Init::new(42).kaiming_normal_fan_out([64, 3, 7, 7]), conv1);
//! ```

use ndarray::{Array, Array1, Array2, Array4, ShapeBuilder};

/// A seeded source of initial weights. Every draw advances the generator, so the order of
/// calls is part of what a seed reproduces.
///
/// ```
/// use stride_runtime::init::Init;
///
/// let mut a = Init::new(7);
/// let mut b = Init::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(Init::new(7).next_u64(), Init::new(8).next_u64());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// xoshiro256** state; never all zero (SplitMix64 outputs are distinct).
    state: [u64; 4],
    /// The second normal of the last Box–Muller pair, not yet handed out.
    spare_normal: Option<u64>,
}

impl Init {
    /// A generator whose whole state is derived from `seed` by SplitMix64, as the xoshiro
    /// authors recommend (any seed is fine, 0 included).
    ///
    /// ```
    /// let mut init = stride_runtime::init::Init::new(0);
    /// assert_ne!(init.next_u64(), init.next_u64());
    /// ```
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Init {
            state: [next(), next(), next(), next()],
            spare_normal: None,
        }
    }

    /// The next 64 random bits (xoshiro256**).
    ///
    /// ```
    /// let mut init = stride_runtime::init::Init::new(1);
    /// let _bits: u64 = init.next_u64();
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform draw from `[0, 1)`, with 53 random bits.
    ///
    /// ```
    /// let u = stride_runtime::init::Init::new(1).next_f64();
    /// assert!((0.0..1.0).contains(&u));
    /// ```
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller; the pair's second value is kept for the next call).
    ///
    /// ```
    /// let z = stride_runtime::init::Init::new(1).next_normal();
    /// assert!(z.is_finite());
    /// ```
    pub fn next_normal(&mut self) -> f64 {
        if let Some(bits) = self.spare_normal.take() {
            return f64::from_bits(bits);
        }
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - self.next_f64()).ln()).sqrt();
        let angle = std::f64::consts::TAU * self.next_f64();
        self.spare_normal = Some((radius * angle.sin()).to_bits());
        radius * angle.cos()
    }

    /// An array of the given shape with entries drawn from `N(0, std²)`, in C order.
    ///
    /// ```
    /// let w = stride_runtime::init::Init::new(3).normal((4, 5), 0.01);
    /// assert!(w.iter().all(|v| v.abs() < 0.1));
    /// ```
    pub fn normal<Sh: ShapeBuilder>(&mut self, shape: Sh, std: f32) -> Array<f32, Sh::Dim> {
        let std = f64::from(std);
        Array::from_shape_simple_fn(shape, || (self.next_normal() * std) as f32)
    }

    /// An array of the given shape with entries drawn from `U(-bound, bound)`, in C order.
    ///
    /// ```
    /// let b = stride_runtime::init::Init::new(3).uniform(100, 0.5);
    /// assert!(b.iter().all(|v| (-0.5..=0.5).contains(v)));
    /// ```
    pub fn uniform<Sh: ShapeBuilder>(&mut self, shape: Sh, bound: f32) -> Array<f32, Sh::Dim> {
        let bound = f64::from(bound);
        Array::from_shape_simple_fn(shape, || (bound * (2.0 * self.next_f64() - 1.0)) as f32)
    }

    /// A convolution weight as torchvision's ResNets, VGGs and MobileNets initialise it:
    /// `kaiming_normal_(w, mode="fan_out", nonlinearity="relu")`, i.e. `N(0, 2 / fan_out)`
    /// with `fan_out = shape[0] * shape[2] * shape[3]`.
    ///
    /// `fan_out` is computed from the tensor as given, as PyTorch's
    /// `_calculate_fan_in_and_fan_out` does, which assumes the `Conv2d` layout
    /// `[Cout, Cin/groups, kh, kw]`. For a `ConvTranspose2d` weight, `[Cin, Cout/groups, kh, kw]`,
    /// that makes "fan_out" `Cin * kh * kw`: PyTorch's quirk, kept here so that both initialise
    /// alike.
    ///
    /// ```
    /// let w = stride_runtime::init::Init::new(0).kaiming_normal_fan_out([64, 3, 7, 7]);
    /// assert_eq!(w.dim(), (64, 3, 7, 7));
    /// ```
    pub fn kaiming_normal_fan_out(&mut self, shape: [usize; 4]) -> Array4<f32> {
        self.normal(shape, kaiming_fan_out_std(&shape))
    }

    /// A linear layer's weight `[out, in_]` and bias `[out]` as PyTorch's `nn.Linear`
    /// initialises them: both `U(-1/√in, 1/√in)` (its `kaiming_uniform_(a=√5)` works out to
    /// that bound). torchvision leaves the classifier of its ResNets at this default.
    ///
    /// ```
    /// let (w, b) = stride_runtime::init::Init::new(0).linear_default(10, 512);
    /// let bound = 1.0 / 512f32.sqrt();
    /// assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
    /// ```
    pub fn linear_default(&mut self, out: usize, in_: usize) -> (Array2<f32>, Array1<f32>) {
        let bound = fan_in_bound(in_);
        (self.uniform((out, in_), bound), self.uniform(out, bound))
    }

    /// A convolution's weight `[Cout, Cin/groups, kh, kw]` and bias `[Cout]` as PyTorch's
    /// `nn.Conv2d` initialises them when the model does not override it: both
    /// `U(-1/√fan_in, 1/√fan_in)` with `fan_in = shape[1] * shape[2] * shape[3]`.
    ///
    /// ```
    /// let (w, b) = stride_runtime::init::Init::new(0).conv_default([8, 4, 3, 3]);
    /// assert_eq!((w.dim(), b.len()), ((8, 4, 3, 3), 8));
    /// ```
    pub fn conv_default(&mut self, shape: [usize; 4]) -> (Array4<f32>, Array1<f32>) {
        let bound = fan_in_bound(shape[1] * shape[2] * shape[3]);
        (self.uniform(shape, bound), self.uniform(shape[0], bound))
    }
}

/// The standard deviation of `kaiming_normal_(w, mode="fan_out", nonlinearity="relu")` for a
/// tensor of `shape`: `√(2 / fan_out)` with `fan_out = shape[0] * shape[2] * shape[3] * …`
/// (PyTorch's `_calculate_fan_in_and_fan_out`), or 0 for an empty tensor, of which nothing is
/// drawn.
///
/// ```
/// use stride_runtime::init::kaiming_fan_out_std;
///
/// assert_eq!(kaiming_fan_out_std(&[2, 3, 1, 1]), 1.0);
/// assert_eq!(kaiming_fan_out_std(&[0, 3, 3, 3]), 0.0);
/// ```
pub fn kaiming_fan_out_std(shape: &[usize]) -> f32 {
    let fan_out = shape.first().copied().unwrap_or(1) * shape.iter().skip(2).product::<usize>();
    if fan_out == 0 {
        0.0
    } else {
        (2.0 / fan_out as f64).sqrt() as f32
    }
}

/// The bound of PyTorch's default uniform initialisation of linear and convolution layers:
/// `1/√fan_in`, or 0 for an empty fan-in (PyTorch's guard, which leaves such a bias at 0).
///
/// ```
/// assert_eq!(stride_runtime::init::fan_in_bound(4), 0.5);
/// assert_eq!(stride_runtime::init::fan_in_bound(0), 0.0);
/// ```
pub fn fan_in_bound(fan_in: usize) -> f32 {
    if fan_in == 0 {
        0.0
    } else {
        (1.0 / (fan_in as f64).sqrt()) as f32
    }
}

/// A batch norm's parameters and running statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormInit {
    /// The scale, `γ`.
    pub weight: Array1<f32>,
    /// The shift, `β`.
    pub bias: Array1<f32>,
    /// The running mean.
    pub running_mean: Array1<f32>,
    /// The running variance.
    pub running_var: Array1<f32>,
}

/// A batch norm of `channels` channels as PyTorch initialises it: weight 1, bias 0, running
/// mean 0, running variance 1 (the identity, up to `eps`). Nothing random, so no [`Init`].
///
/// ```
/// let bn = stride_runtime::init::batch_norm_default(64);
/// assert!(bn.weight.iter().all(|&v| v == 1.0) && bn.running_mean.iter().all(|&v| v == 0.0));
/// ```
pub fn batch_norm_default(channels: usize) -> BatchNormInit {
    BatchNormInit {
        weight: Array1::ones(channels),
        bias: Array1::zeros(channels),
        running_mean: Array1::zeros(channels),
        running_var: Array1::ones(channels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_and_std(values: impl Iterator<Item = f32> + Clone) -> (f64, f64) {
        let n = values.clone().count() as f64;
        let mean = values.clone().map(f64::from).sum::<f64>() / n;
        let var = values.map(|v| (f64::from(v) - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn the_same_seed_gives_identical_arrays() {
        let draw = |seed| {
            let mut init = Init::new(seed);
            let conv = init.kaiming_normal_fan_out([16, 8, 3, 3]);
            let (w, b) = init.linear_default(10, 32);
            (conv, w, b)
        };
        assert_eq!(draw(2024), draw(2024));
    }

    #[test]
    fn different_seeds_give_different_arrays() {
        let a = Init::new(1).kaiming_normal_fan_out([16, 8, 3, 3]);
        let b = Init::new(2).kaiming_normal_fan_out([16, 8, 3, 3]);
        assert_ne!(a, b);
    }

    #[test]
    fn kaiming_fan_out_sample_std_is_within_three_percent_of_sqrt_two_over_fan_out() {
        let w = Init::new(5).kaiming_normal_fan_out([64, 64, 3, 3]);
        let (mean, std) = mean_and_std(w.iter().copied());
        let want = (2.0f64 / (64.0 * 9.0)).sqrt();
        assert!((std / want - 1.0).abs() < 0.03, "std {std}, want {want}");
        assert!(mean.abs() < 0.05 * want, "mean {mean}");
    }

    #[test]
    fn kaiming_fan_out_of_a_transposed_weight_uses_its_first_axis() {
        // ConvTranspose2d weight [Cin = 256, Cout = 8, 4, 4]: PyTorch's fan_out is 256 * 16.
        let w = Init::new(9).kaiming_normal_fan_out([256, 8, 4, 4]);
        let (_, std) = mean_and_std(w.iter().copied());
        let want = (2.0f64 / (256.0 * 16.0)).sqrt();
        assert!((std / want - 1.0).abs() < 0.03, "std {std}, want {want}");
    }

    #[test]
    fn linear_default_stays_within_one_over_sqrt_in_and_spans_it() {
        let (w, b) = Init::new(11).linear_default(64, 100);
        let bound = 0.1f32;
        assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
        let (min, max) = w
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(min < -0.99 * bound && max > 0.99 * bound, "[{min}, {max}]");
        // U(-b, b) has std b/√3.
        let (_, std) = mean_and_std(w.iter().copied());
        let want = f64::from(bound) / 3f64.sqrt();
        assert!((std / want - 1.0).abs() < 0.05, "std {std}, want {want}");
    }

    #[test]
    fn conv_default_bound_uses_cin_times_kernel_area() {
        let (w, b) = Init::new(3).conv_default([16, 4, 5, 5]);
        let bound = 0.1f32; // 1 / √(4 * 25)
        assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
    }

    #[test]
    fn linear_with_no_inputs_gets_a_zero_bias_instead_of_nan() {
        let (w, b) = Init::new(0).linear_default(3, 0);
        assert_eq!(w.dim(), (3, 0));
        assert_eq!(b, Array1::<f32>::zeros(3));
    }

    #[test]
    fn standard_normals_have_unit_variance() {
        let mut init = Init::new(77);
        let draws: Vec<f32> = (0..20_000).map(|_| init.next_normal() as f32).collect();
        let (mean, std) = mean_and_std(draws.iter().copied());
        assert!(
            mean.abs() < 0.03 && (std - 1.0).abs() < 0.03,
            "{mean} {std}"
        );
    }

    #[test]
    fn batch_norm_default_is_the_identity() {
        let bn = batch_norm_default(4);
        assert_eq!(bn.weight, Array1::<f32>::ones(4));
        assert_eq!(bn.bias, Array1::<f32>::zeros(4));
        assert_eq!(bn.running_mean, Array1::<f32>::zeros(4));
        assert_eq!(bn.running_var, Array1::<f32>::ones(4));
    }
}
