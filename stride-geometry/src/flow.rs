//! How a whole network maps the size of one spatial axis: each layer's rule ([`AxisRule`]), the
//! branches that must meet, and one `const fn` that runs the program on a size ([`run_flow`]).
//!
//! The macro builds the program as it checks a network and writes it into the network's graph;
//! the runtime runs it on the size of each input (any size, for a network declared with names
//! for its height and width), `const` code runs it on a size fixed at compile time, and the
//! macro runs it on every size up to a bound to find which sizes the network takes.
//!
//! The two axes are independent: no rule mixes height and width, and branches meet axis by
//! axis.
//!
//! ```
//! use stride_geometry::{AxisRule, FlowOp, Padding, Window, run_flow};
//!
//! // A 3x3 convolution with padding 1 and stride 2, then its input joined back by a 1x1/2
//! // shortcut: a ResNet downsampling block, on one axis.
//! const CONV: AxisRule = AxisRule::Conv { window: Window::new(3).stride(2), padding: Padding::symmetric(1) };
//! const SHORTCUT: AxisRule = AxisRule::Conv { window: Window::new(1).stride(2), padding: Padding::symmetric(0) };
//! const BLOCK: &[FlowOp] = &[
//!     FlowOp::Residual,
//!     FlowOp::Layer { row: 0, rule: CONV },
//!     FlowOp::Shortcut,
//!     FlowOp::Layer { row: 1, rule: SHORTCUT },
//!     FlowOp::EndResidual { row: 2 },
//! ];
//! assert_eq!(run_flow(BLOCK, 56, &mut []), Ok(28));
//! assert_eq!(run_flow(BLOCK, 57, &mut []), Ok(29));
//! ```

use crate::text::{transposed_arithmetic, window_arithmetic};
use crate::{GeometryError, Padding, Text, TransposedAxis, Window, axis_name, conv_output};
use crate::{explain, pool_output, resolve_padding, upsample_output};

/// How one layer maps the size of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AxisRule {
    /// The size is kept (activations, batch norm, …).
    Keep,
    /// A convolution: its kernel, stride and dilation (`window`, pads unset) and its padding.
    Conv {
        /// Kernel, stride and dilation.
        window: Window,
        /// Explicit, or a mode resolved for each size.
        padding: Padding,
    },
    /// A max or average pool.
    Pool {
        /// Kernel, stride and dilation.
        window: Window,
        /// Explicit, or a mode resolved for each size; at most half the kernel.
        padding: Padding,
        /// Whether the output size rounds up.
        ceil_mode: bool,
    },
    /// A transposed convolution.
    Transposed(TransposedAxis),
    /// Upsampling by an integer factor.
    Scale(usize),
    /// A size that does not depend on the input (adaptive pooling).
    Fixed(usize),
    /// A size that must be exactly this one (a network of another invocation, whose input is
    /// fixed); the size after it is `output`.
    Exactly {
        /// The size it takes.
        input: usize,
        /// The size it gives.
        output: usize,
    },
}

impl AxisRule {
    /// The size after the layer, for an input of `input`.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, Padding, Window};
    ///
    /// let same = AxisRule::Conv { window: Window::new(3).stride(2), padding: Padding::SameUpper };
    /// assert_eq!(same.apply(225), Ok(113));
    /// assert!(AxisRule::Exactly { input: 7, output: 1 }.apply(8).is_err());
    /// ```
    pub const fn apply(&self, input: usize) -> Result<usize, GeometryError> {
        match *self {
            AxisRule::Keep => Ok(input),
            AxisRule::Conv { window, padding } => match pad(window, padding, input) {
                Ok(window) => conv_output(input, window),
                Err(e) => Err(e),
            },
            AxisRule::Pool {
                window,
                padding,
                ceil_mode,
            } => match pad(window, padding, input) {
                Ok(window) => match window.check_pool_padding() {
                    Ok(()) => pool_output(input, window, ceil_mode),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
            AxisRule::Transposed(axis) => axis.output(input),
            AxisRule::Scale(scale) => upsample_output(input, scale),
            AxisRule::Fixed(size) => Ok(size),
            AxisRule::Exactly {
                input: want,
                output,
            } => {
                if input == want {
                    Ok(output)
                } else {
                    Err(GeometryError::InputNotExactly { input, want })
                }
            }
        }
    }
}

impl AxisRule {
    /// Whether the layer rounds its output size for an input of `input` (a convolution or pool
    /// whose windows do not tile the padded input exactly), and if so how: the padded window
    /// and whether it rounds up.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, Padding, Window};
    ///
    /// let pool = AxisRule::Pool { window: Window::new(2).stride(2), padding: Padding::symmetric(0), ceil_mode: false };
    /// assert!(pool.rounding(31).is_some());
    /// assert!(pool.rounding(32).is_none());
    /// ```
    pub const fn rounding(&self, input: usize) -> Option<(Window, bool)> {
        let (window, padding, ceil_mode) = match *self {
            AxisRule::Conv { window, padding } => (window, padding, false),
            AxisRule::Pool {
                window,
                padding,
                ceil_mode,
            } => (window, padding, ceil_mode),
            _ => return None,
        };
        let Ok(w) = pad(window, padding, input) else {
            return None;
        };
        let span =
            input as i128 + w.pad_begin as i128 + w.pad_end as i128 - w.effective_kernel() as i128;
        if w.stride == 0 || span < 0 || span % w.stride as i128 == 0 {
            None
        } else {
            Some((w, ceil_mode))
        }
    }
}

impl AxisRule {
    /// Whether the layer gives exactly its input divided by its stride (a convolution or pool)
    /// or multiplied by it (a transposed convolution), for an input of `input`. Two branches
    /// that must meet most often part at the first layer that does not: a pool that floors
    /// 143 to 71, a transposed convolution that gives 27 for 14. Other rules are exact.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, Padding, TransposedAxis, Window};
    ///
    /// let halve = AxisRule::Pool { window: Window::new(2).stride(2), padding: Padding::symmetric(0), ceil_mode: false };
    /// assert!(halve.is_exact(144));
    /// assert!(!halve.is_exact(143));
    /// assert!(!AxisRule::Transposed(TransposedAxis::new(3).stride(2).padding(1)).is_exact(14));
    /// ```
    pub const fn is_exact(&self, input: usize) -> bool {
        let Ok(output) = self.apply(input) else {
            return true;
        };
        match *self {
            AxisRule::Conv { window, .. } | AxisRule::Pool { window, .. } => {
                output as u128 * window.stride as u128 == input as u128
            }
            AxisRule::Transposed(axis) => output as u128 == input as u128 * axis.stride as u128,
            _ => true,
        }
    }

    /// The output-size formula in the user's numbers, with its result, for an input of
    /// `input`: `(143 + 2*0 - 1*(3-1) - 1) / 2 + 1 = 71`. Empty for a rule without one, or a
    /// size the rule refuses.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, TransposedAxis};
    ///
    /// let up = AxisRule::Transposed(TransposedAxis::new(3).stride(2).padding(1));
    /// assert_eq!(up.arithmetic(14).as_str(), "(14 - 1)*2 - 2*1 + 1*(3-1) + 0 + 1 = 27");
    /// ```
    pub const fn arithmetic(&self, input: usize) -> Text {
        let Ok(output) = self.apply(input) else {
            return Text::new();
        };
        let t = match *self {
            AxisRule::Conv { window, padding }
            | AxisRule::Pool {
                window, padding, ..
            } => {
                let ceil = matches!(
                    self,
                    AxisRule::Pool {
                        ceil_mode: true,
                        ..
                    }
                );
                match pad(window, padding, input) {
                    Ok(w) => window_arithmetic(Text::new(), input, w, ceil),
                    Err(_) => return Text::new(),
                }
            }
            AxisRule::Transposed(axis) => transposed_arithmetic(Text::new(), input, axis),
            _ => return Text::new(),
        };
        t.push(" = ").number(output)
    }

    /// The rule with one parameter changed, where the rule has that parameter (a padding only
    /// where it is explicit). Whether PyTorch takes the changed layer is for
    /// [`AxisRule::apply`] to say.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, Padding, Tweak, Window};
    ///
    /// let halve = AxisRule::Pool { window: Window::new(2).stride(2), padding: Padding::symmetric(0), ceil_mode: false };
    /// assert_eq!(halve.apply(143), Ok(71));
    /// assert_eq!(halve.tweaked(Tweak::CeilMode(true)).map(|r| r.apply(143)), Some(Ok(72)));
    /// assert_eq!(halve.tweaked(Tweak::OutputPadding(1)), None);
    /// ```
    pub const fn tweaked(&self, tweak: Tweak) -> Option<AxisRule> {
        match (*self, tweak) {
            (
                AxisRule::Pool {
                    window, padding, ..
                },
                Tweak::CeilMode(ceil_mode),
            ) => Some(AxisRule::Pool {
                window,
                padding,
                ceil_mode,
            }),
            (
                AxisRule::Pool {
                    window,
                    padding,
                    ceil_mode,
                },
                Tweak::Padding(p),
            ) if explicit(padding) => Some(AxisRule::Pool {
                window,
                padding: Padding::symmetric(p),
                ceil_mode,
            }),
            (AxisRule::Conv { window, padding }, Tweak::Padding(p)) if explicit(padding) => {
                Some(AxisRule::Conv {
                    window,
                    padding: Padding::symmetric(p),
                })
            }
            (AxisRule::Transposed(axis), Tweak::Padding(p)) => {
                Some(AxisRule::Transposed(axis.padding(p)))
            }
            (AxisRule::Transposed(axis), Tweak::OutputPadding(p)) => {
                Some(AxisRule::Transposed(axis.output_padding(p)))
            }
            _ => None,
        }
    }
}

/// Whether a padding is numbers rather than a mode.
const fn explicit(padding: Padding) -> bool {
    matches!(padding, Padding::Explicit { .. })
}

/// A change of one parameter of a layer, as [`AxisRule::tweaked`] makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tweak {
    /// A pool's `ceil_mode`.
    CeilMode(bool),
    /// A convolution's, pool's or transposed convolution's padding, on both sides.
    Padding(usize),
    /// A transposed convolution's `output_padding`.
    OutputPadding(usize),
}

/// A layer that rounded its output size: where branches that must meet lose a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rounding {
    /// The layer's summary row.
    pub row: usize,
    /// Its step in the size program.
    pub step: usize,
    /// The size that reached it.
    pub input: usize,
}

impl Rounding {
    /// The rounding in the user's numbers, from the size program `flow` it was found in; the
    /// caller names the layer.
    ///
    /// ```
    /// use stride_geometry::{AxisRule, FlowOp, Padding, Rounding, Window};
    ///
    /// let pool = AxisRule::Pool { window: Window::new(2).stride(2), padding: Padding::symmetric(0), ceil_mode: false };
    /// let flow = [FlowOp::Layer { row: 0, rule: pool }];
    /// let r = Rounding { row: 0, step: 0, input: 31 };
    /// assert_eq!(r.explain(&flow, 0).as_str(), "rounds a height of 31 down: (31 + 2*0 - 1*(2-1) - 1) / 2 + 1 = 15");
    /// ```
    pub const fn explain(&self, flow: &[FlowOp], axis: usize) -> Text {
        if self.step >= flow.len() {
            return Text::new();
        }
        let FlowOp::Layer { rule, .. } = flow[self.step] else {
            return Text::new();
        };
        let (Some((window, ceil)), Ok(output)) =
            (rule.rounding(self.input), rule.apply(self.input))
        else {
            return Text::new();
        };
        let t = Text::new()
            .push("rounds a ")
            .push(axis_name(axis))
            .push(" of ")
            .number(self.input)
            .push(if ceil { " up: " } else { " down: " });
        window_arithmetic(t, self.input, window, ceil)
            .push(" = ")
            .number(output)
    }
}

/// `window` with `padding` resolved for an input of `input`.
const fn pad(window: Window, padding: Padding, input: usize) -> Result<Window, GeometryError> {
    match resolve_padding(
        padding,
        input,
        window.kernel,
        window.stride,
        window.dilation,
    ) {
        Ok(pads) => Ok(pads.apply(window)),
        Err(e) => Err(e),
    }
}

/// One step of a network's size program. Branches are bracketed: a residual's main path runs
/// from [`FlowOp::Residual`] to [`FlowOp::Shortcut`] (or to [`FlowOp::EndResidual`] when it
/// has none), and each concat branch ends at [`FlowOp::Branch`] or [`FlowOp::EndConcat`].
/// `row` is the summary row of the step, which names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowOp {
    /// A layer.
    Layer {
        /// Its summary row.
        row: usize,
        /// Its rule on this axis.
        rule: AxisRule,
    },
    /// A residual starts: its main path follows, from its input.
    Residual,
    /// The main path ended; the shortcut follows, from the residual's input.
    Shortcut,
    /// A residual ends: its main path and its shortcut (or its input) must have one size.
    EndResidual {
        /// Its summary row.
        row: usize,
    },
    /// A concat starts: its first branch follows, from its input.
    Concat,
    /// A branch ended; the next follows, from the concat's input.
    Branch,
    /// A concat ends: every branch must have one size.
    EndConcat {
        /// Its summary row.
        row: usize,
    },
    /// A scale starts: its gate follows, from its input.
    Gate,
    /// A scale ends: its gate's size must be 1 (one value per channel) or its input's, and
    /// the size after it is its input's.
    EndGate {
        /// Its summary row.
        row: usize,
    },
}

/// Why a size program refused a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowError {
    /// A layer refused the size that reached it.
    Layer {
        /// The layer's summary row.
        row: usize,
        /// The size that reached it.
        input: usize,
        /// Its refusal.
        error: GeometryError,
    },
    /// Two branches that meet have different sizes.
    Branches {
        /// The residual's or concat's summary row.
        row: usize,
        /// The size the branches started from.
        input: usize,
        /// The first branch's size (a residual's main path).
        first: usize,
        /// The size that differs from it (the shortcut or input, another branch).
        other: usize,
        /// The first layer that rounded its size, in the branch that gave `other` or else in
        /// the first: most often why the branches differ.
        rounding: Option<Rounding>,
    },
    /// The branches nest deeper than [`MAX_DEPTH`], or the brackets do not match (which only
    /// a hand-written program can do).
    Malformed,
}

impl FlowError {
    /// The refusal in words and the user's numbers, for axis `axis`; the caller names the row.
    ///
    /// ```
    /// use stride_geometry::FlowError;
    ///
    /// let error = FlowError::Branches { row: 3, input: 62, first: 31, other: 30, rounding: None };
    /// assert_eq!(
    ///     error.explain(0).as_str(),
    ///     "its branches give heights 31 and 30, from a height of 62"
    /// );
    /// ```
    pub const fn explain(&self, axis: usize) -> Text {
        match *self {
            FlowError::Layer { error, .. } => explain(axis, &error),
            FlowError::Branches {
                input,
                first,
                other,
                ..
            } => Text::new()
                .push("its branches give ")
                .push(axis_name(axis))
                .push("s ")
                .number(first)
                .push(" and ")
                .number(other)
                .push(", from a ")
                .push(axis_name(axis))
                .push(" of ")
                .number(input),
            FlowError::Malformed => Text::new().push("its size program is malformed"),
        }
    }

    /// For branches that differ, the first layer that rounded its size on the way: the caller
    /// names its row, and [`Rounding::explain`] gives the arithmetic.
    pub const fn rounding(&self) -> Option<Rounding> {
        match *self {
            FlowError::Branches { rounding, .. } => rounding,
            _ => None,
        }
    }

    /// The summary row of the step that refused, if any.
    pub const fn row(&self) -> Option<usize> {
        match *self {
            FlowError::Layer { row, .. } | FlowError::Branches { row, .. } => Some(row),
            FlowError::Malformed => None,
        }
    }
}

/// How deep branches may nest in a size program.
pub const MAX_DEPTH: usize = 64;

/// A branch being run: where it started and what its earlier branches gave.
#[derive(Clone, Copy)]
struct Frame {
    input: usize,
    /// A residual's main path's size, or a concat's first branch's.
    first: Option<usize>,
    /// The first rounding in the first branch.
    first_rounding: Option<Rounding>,
    /// The first rounding before the branches, in the branch that holds them.
    outer_rounding: Option<Rounding>,
}

/// Runs a size program on `input`: the size after its last step, or the first refusal.
/// `record[row]` (where `record` is long enough) gets each step's input and output sizes.
///
/// ```
/// use stride_geometry::{AxisRule, FlowError, FlowOp, run_flow};
///
/// // A concat of the input and its 2x upsampling never meets.
/// const FLOW: &[FlowOp] = &[
///     FlowOp::Concat,
///     FlowOp::Branch,
///     FlowOp::Layer { row: 0, rule: AxisRule::Scale(2) },
///     FlowOp::EndConcat { row: 1 },
/// ];
/// let mut record = [[0; 2]; 2];
/// assert_eq!(
///     run_flow(FLOW, 8, &mut record),
///     Err(FlowError::Branches { row: 1, input: 8, first: 8, other: 16, rounding: None })
/// );
/// assert_eq!(record[0], [8, 16]);
/// ```
pub const fn run_flow(
    flow: &[FlowOp],
    input: usize,
    record: &mut [[usize; 2]],
) -> Result<usize, FlowError> {
    let mut stack = [Frame {
        input: 0,
        first: None,
        first_rounding: None,
        outer_rounding: None,
    }; MAX_DEPTH];
    let mut depth = 0;
    let mut size = input;
    // The first layer that rounded its size in the branch being run.
    let mut rounding: Option<Rounding> = None;
    let mut i = 0;
    while i < flow.len() {
        match flow[i] {
            FlowOp::Layer { row, rule } => {
                let input = size;
                size = match rule.apply(input) {
                    Ok(output) => output,
                    Err(error) => return Err(FlowError::Layer { row, input, error }),
                };
                if rounding.is_none() && rule.rounding(input).is_some() {
                    rounding = Some(Rounding {
                        row,
                        step: i,
                        input,
                    });
                }
                if row < record.len() {
                    record[row] = [input, size];
                }
            }
            FlowOp::Residual | FlowOp::Concat | FlowOp::Gate => {
                if depth == MAX_DEPTH {
                    return Err(FlowError::Malformed);
                }
                stack[depth] = Frame {
                    input: size,
                    first: None,
                    first_rounding: None,
                    outer_rounding: rounding,
                };
                rounding = None;
                depth += 1;
            }
            FlowOp::Shortcut | FlowOp::Branch => {
                if depth == 0 {
                    return Err(FlowError::Malformed);
                }
                let frame = &mut stack[depth - 1];
                match frame.first {
                    None => {
                        frame.first = Some(size);
                        frame.first_rounding = rounding;
                    }
                    Some(first) if first != size => {
                        return Err(FlowError::Branches {
                            row: next_end(flow, i),
                            input: frame.input,
                            first,
                            other: size,
                            rounding: either(rounding, frame.first_rounding),
                        });
                    }
                    Some(_) => {}
                }
                size = frame.input;
                rounding = None;
            }
            FlowOp::EndGate { row } => {
                if depth == 0 {
                    return Err(FlowError::Malformed);
                }
                depth -= 1;
                let frame = stack[depth];
                if size != 1 && size != frame.input {
                    return Err(FlowError::Branches {
                        row,
                        input: frame.input,
                        first: frame.input,
                        other: size,
                        rounding,
                    });
                }
                size = frame.input;
                rounding = frame.outer_rounding;
                if row < record.len() {
                    record[row] = [frame.input, size];
                }
            }
            FlowOp::EndResidual { row } | FlowOp::EndConcat { row } => {
                if depth == 0 {
                    return Err(FlowError::Malformed);
                }
                depth -= 1;
                let frame = stack[depth];
                // A residual without a shortcut adds its input itself.
                let (first, other) = match (flow[i], frame.first) {
                    (_, Some(first)) => (first, size),
                    (FlowOp::EndResidual { .. }, None) => (size, frame.input),
                    (_, None) => (size, size),
                };
                let inner = either(rounding, frame.first_rounding);
                if first != other {
                    return Err(FlowError::Branches {
                        row,
                        input: frame.input,
                        first,
                        other,
                        rounding: inner,
                    });
                }
                size = first;
                rounding = either(frame.outer_rounding, inner);
                if row < record.len() {
                    record[row] = [frame.input, size];
                }
            }
        }
        i += 1;
    }
    if depth != 0 {
        return Err(FlowError::Malformed);
    }
    Ok(size)
}

/// `a`, or else `b`.
const fn either(a: Option<Rounding>, b: Option<Rounding>) -> Option<Rounding> {
    match a {
        Some(_) => a,
        None => b,
    }
}

/// The row of the end of the branch structure that step `from` is inside.
const fn next_end(flow: &[FlowOp], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from + 1;
    while i < flow.len() {
        match flow[i] {
            FlowOp::Residual | FlowOp::Concat | FlowOp::Gate => depth += 1,
            FlowOp::EndResidual { row } | FlowOp::EndConcat { row } | FlowOp::EndGate { row } => {
                if depth == 0 {
                    return row;
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Padding;

    const HALVE: AxisRule = AxisRule::Pool {
        window: Window::new(2).stride(2),
        padding: Padding::symmetric(0),
        ceil_mode: false,
    };

    #[test]
    fn a_rounding_before_nested_branches_is_the_one_reported() {
        // Input joined with: halve, a residual that keeps the size, double.
        let flow = [
            FlowOp::Concat,
            FlowOp::Branch,
            FlowOp::Layer {
                row: 0,
                rule: HALVE,
            },
            FlowOp::Residual,
            FlowOp::Layer {
                row: 1,
                rule: AxisRule::Keep,
            },
            FlowOp::EndResidual { row: 2 },
            FlowOp::Layer {
                row: 3,
                rule: AxisRule::Scale(2),
            },
            FlowOp::EndConcat { row: 4 },
        ];
        assert_eq!(run_flow(&flow, 8, &mut []), Ok(8));
        let error = run_flow(&flow, 9, &mut []).unwrap_err();
        let rounding = Rounding {
            row: 0,
            step: 2,
            input: 9,
        };
        assert_eq!(error.rounding(), Some(rounding));
        assert_eq!(
            rounding.explain(&flow, 1).as_str(),
            "rounds a width of 9 down: (9 + 2*0 - 1*(2-1) - 1) / 2 + 1 = 4"
        );
    }

    #[test]
    fn branches_that_differ_without_rounding_name_none() {
        // Input joined with its 2x upsampling: no layer rounds.
        let flow = [
            FlowOp::Concat,
            FlowOp::Branch,
            FlowOp::Layer {
                row: 0,
                rule: AxisRule::Scale(2),
            },
            FlowOp::EndConcat { row: 1 },
        ];
        assert_eq!(run_flow(&flow, 9, &mut []).unwrap_err().rounding(), None);
    }
}
