//! The input sizes a graph takes: checked before the layers run (at run time for any size,
//! in a constant for a size fixed at compile time), with the arithmetic of the layer that
//! refuses; and the summary at any size taken.

use stride_geometry::{FlowError, Text, axis_name, conv_transpose2d_macs, conv2d_macs};
use stride_geometry::{linear_macs, run_flow};

use super::{Graph, Layer, Op};
use crate::summary::{InputSize, LayerAt, SummaryAt};
use crate::{Error, Result};

/// Why a graph refuses an input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeError {
    /// The axis: 0 for the height, 1 for the width.
    pub axis: usize,
    /// The size refused.
    pub size: usize,
    /// What refused it.
    pub cause: SizeCause,
}

/// What refused an input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeCause {
    /// The axis takes one size, and it is another.
    Fixed {
        /// The size it takes.
        want: usize,
    },
    /// The axis's size program refused it: a layer, or branches that do not meet.
    Flow(FlowError),
}

impl Graph {
    /// A graph of `name` that takes `input`, with nothing in it yet: the start of a graph
    /// written by hand (`Graph { layers: …, nodes: …, ..Graph::new("Tiny", [3, 8, 8]) }`).
    ///
    /// ```
    /// use stride_runtime::graph::Graph;
    ///
    /// const EMPTY: Graph = Graph::new("Nothing", [1, 2, 3]);
    /// assert_eq!(EMPTY.output, &[] as &[usize]);
    /// assert!(EMPTY.takes([2, 3]).is_ok());
    /// assert!(EMPTY.takes([2, 4]).is_err());
    /// ```
    pub const fn new(name: &'static str, input: [usize; 3]) -> Graph {
        Graph {
            name,
            input,
            sizes: [InputSize::fixed(input[1]), InputSize::fixed(input[2])],
            at: input,
            flows: [&[], &[]],
            output: &[],
            layers: &[],
            groups: &[],
            externals: &[],
            nodes: &[],
            rows: &[],
            params: 0,
            macs: 0,
            receptive_field: None,
            jump: None,
        }
    }

    /// Whether the graph takes an input of height and width `size`; if so, the output's
    /// height and width (for a graph whose output is a feature map).
    ///
    /// # Errors
    /// The first axis the graph refuses the size on, and why.
    pub const fn takes(&self, size: [usize; 2]) -> core::result::Result<[usize; 2], SizeError> {
        let mut out = [0; 2];
        let mut axis = 0;
        while axis < 2 {
            let sizes = self.sizes[axis];
            if !sizes.is_generic() && size[axis] != sizes.min {
                return Err(SizeError {
                    axis,
                    size: size[axis],
                    cause: SizeCause::Fixed { want: sizes.min },
                });
            }
            out[axis] = match run_flow(self.flows[axis], size[axis], &mut []) {
                Ok(output) => output,
                Err(e) => {
                    return Err(SizeError {
                        axis,
                        size: size[axis],
                        cause: SizeCause::Flow(e),
                    });
                }
            };
            axis += 1;
        }
        Ok(out)
    }

    /// The words for a refused size: the network and the size, the layer (or branches) and
    /// the arithmetic, and the sizes the network takes.
    ///
    /// ```
    /// use stride_runtime::graph::Graph;
    ///
    /// const G: Graph = Graph::new("Stem", [3, 224, 224]);
    /// let error = G.takes([224, 225]).unwrap_err();
    /// assert_eq!(
    ///     G.size_text([224, 225], &error).as_str(),
    ///     "`Stem` at 224x225: its width must be 224, not 225"
    /// );
    /// ```
    pub const fn size_text(&self, size: [usize; 2], error: &SizeError) -> Text {
        let t = Text::new()
            .push("`")
            .push(self.name)
            .push("` at ")
            .number(size[0])
            .push("x")
            .number(size[1])
            .push(": ");
        let axis = error.axis;
        let t = match error.cause {
            SizeCause::Fixed { want } => {
                return t
                    .push("its ")
                    .push(axis_name(axis))
                    .push(" must be ")
                    .number(want)
                    .push(", not ")
                    .number(error.size);
            }
            SizeCause::Flow(flow) => {
                let t = match flow.row() {
                    Some(row) if row < self.rows.len() => {
                        t.push("`").push(self.rows[row].name).push("`: ")
                    }
                    _ => t,
                };
                let t = t.append(&flow.explain(axis));
                match flow.rounding() {
                    Some(r) if r.row < self.rows.len() => t
                        .push(", as `")
                        .push(self.rows[r.row].name)
                        .push("` ")
                        .append(&r.explain(self.flows[axis], axis)),
                    _ => t,
                }
            }
        };
        let sizes = self.sizes[axis];
        let t = t
            .push("; `")
            .push(self.name)
            .push("` takes ")
            .push(axis_name(axis))
            .push("s from ")
            .number(sizes.min);
        if sizes.step > 1 {
            let t = t.push(" in steps of ").number(sizes.step);
            if sizes.regular {
                t.push(" (")
                    .number(nearest_below(sizes, error.size))
                    .push(" or ")
                    .number(nearest_below(sizes, error.size) + sizes.step)
                    .push(" here)")
            } else {
                t.push(", not all of them")
            }
        } else {
            t
        }
    }

    /// Panics, with [`Graph::size_text`]'s words, if the graph does not take height and width
    /// `size`: in a constant, a compile error where a size is fixed.
    ///
    /// ```compile_fail
    /// use stride_runtime::graph::Graph;
    ///
    /// const G: Graph = Graph::new("Stem", [3, 224, 224]);
    /// const _: () = G.assert_takes([224, 225]); // error: `Stem` at 224x225: its width must be 224, not 225
    /// ```
    pub const fn assert_takes(&self, size: [usize; 2]) {
        if let Some(text) = self.refusal(size) {
            panic!("{}", text.as_str());
        }
    }

    /// [`Graph::size_text`] for `size` if the graph refuses it: what a constant panics with
    /// where it fixes a size (generated code panics itself, so the error points there).
    ///
    /// ```
    /// use stride_runtime::graph::Graph;
    ///
    /// const G: Graph = Graph::new("Stem", [3, 224, 224]);
    /// assert!(G.refusal([224, 224]).is_none());
    /// assert!(G.refusal([224, 225]).is_some());
    /// ```
    pub const fn refusal(&self, size: [usize; 2]) -> Option<Text> {
        match self.takes(size) {
            Ok(_) => None,
            Err(error) => Some(self.size_text(size, &error)),
        }
    }

    /// The output shape (without the batch) for an input of height and width `size`, or
    /// `None` if the graph does not take it.
    ///
    /// ```
    /// use stride_runtime::graph::Graph;
    ///
    /// const G: Graph = Graph { output: &[8, 4, 4], ..Graph::new("Stem", [3, 4, 4]) };
    /// assert_eq!(G.output_at([4, 4]), Some([8, 4, 4]));
    /// assert_eq!(G.output_at([5, 4]), None);
    /// ```
    pub const fn output_at(&self, size: [usize; 2]) -> Option<[usize; 3]> {
        match self.takes(size) {
            Ok([h, w]) if self.output.len() == 3 => Some([self.output[0], h, w]),
            Ok(_) if self.output.len() == 1 => Some([self.output[0], 0, 0]),
            _ => None,
        }
    }

    /// Refuses an NCHW input whose channels are not the graph's, or whose size it does not
    /// take, naming the layer that would refuse it and the sizes it takes.
    ///
    /// # Errors
    /// [`Error::Shape`] for the channels or the rank; [`Error::InputSize`] for the size.
    pub fn check_input(&self, shape: &[usize]) -> Result<()> {
        let [c, h, w] = self.input;
        let generic = self.sizes.map(|s| s.is_generic());
        if shape.len() != 4
            || shape[1] != c
            || !(generic[0] || shape[2] == h)
            || !(generic[1] || shape[3] == w)
        {
            let [nh, nw] = [0, 1].map(|a| {
                let s = self.sizes[a];
                if s.is_generic() {
                    s.name.to_string()
                } else {
                    s.min.to_string()
                }
            });
            return Err(Error::Shape {
                op: self.name,
                tensor: "input",
                expected: format!("[N, {c}, {nh}, {nw}]"),
                got: shape.to_vec(),
            });
        }
        if !generic.contains(&true) {
            return Ok(());
        }
        let size = [shape[2], shape[3]];
        match self.takes(size) {
            Ok(_) => Ok(()),
            Err(error) => Err(Error::InputSize {
                op: self.name,
                message: self.size_text(size, &error).as_str().to_string(),
            }),
        }
    }

    /// The summary at input height and width `size`: each row's output shape and
    /// multiply-adds there.
    ///
    /// # Errors
    /// A size the graph does not take, as [`Graph::check_input`] refuses it.
    pub fn summary_at(&'static self, size: [usize; 2]) -> Result<SummaryAt> {
        self.check_input(&[1, self.input[0], size[0], size[1]])?;
        let mut record = [vec![[0; 2]; self.rows.len()], vec![[0; 2]; self.rows.len()]];
        for (axis, record) in record.iter_mut().enumerate() {
            if run_flow(self.flows[axis], size[axis], record).is_err() {
                unreachable!("check_input took the size");
            }
        }
        let spatial = |row: usize, side: usize| [record[0][row][side], record[1][row][side]];
        let mut layers: Vec<LayerAt> = self
            .rows
            .iter()
            .enumerate()
            .map(|(row, info)| {
                let output = match info.output {
                    [c, _, _] => {
                        let [h, w] = spatial(row, 1);
                        vec![*c, h, w]
                    }
                    other => other.to_vec(),
                };
                LayerAt {
                    info: *info,
                    output,
                    macs: info.macs,
                }
            })
            .collect();
        for layer in self.layers {
            if let Some(at) = layers.get_mut(layer.row) {
                at.macs = macs(layer, spatial(layer.row, 0), spatial(layer.row, 1));
            }
        }
        let macs = layers
            .iter()
            .map(|l| l.macs)
            .fold(0u64, u64::saturating_add);
        Ok(SummaryAt {
            name: self.name,
            input: [self.input[0], size[0], size[1]],
            layers,
            params: self.params,
            macs,
            flow: self.flows[0],
        })
    }
}

/// The largest size the axis takes at or below `size` (its smallest, if none is).
const fn nearest_below(sizes: InputSize, size: usize) -> usize {
    if size <= sizes.min || sizes.step == 0 {
        sizes.min
    } else {
        size - (size - sizes.min) % sizes.step
    }
}

/// A layer's multiply-adds for an input and output of these heights and widths, by the
/// geometry's counts and the shape of its weight.
fn macs(layer: &Layer, input: [usize; 2], output: [usize; 2]) -> u64 {
    let Some(weight) = layer.tensors.iter().find(|t| t.name == "weight") else {
        return 0;
    };
    let count = match (layer.op, weight.shape) {
        (Op::Conv2d(p), &[cout, cin_group, kh, kw]) => {
            conv2d_macs(cin_group * p.groups, cout, p.groups, [kh, kw], output)
        }
        // A linear layer on each pixel (`[out, in]`), run as a 1x1 convolution.
        (Op::Conv2d(_), &[out, inp]) => conv2d_macs(inp, out, 1, [1, 1], output),
        (Op::ConvTranspose2d(p), &[cin, cout_group, kh, kw]) => {
            conv_transpose2d_macs(cin, cout_group * p.groups, p.groups, [kh, kw], input)
        }
        (Op::Linear, &[out, inp]) => linear_macs(inp, out),
        _ => Ok(0),
    };
    count.unwrap_or(u64::MAX)
}

/// Whether `graph` takes one sample of shape `input` (`[C, H, W]`): what a network checks, in
/// a constant, of a network it runs as a layer.
///
/// ```
/// use stride_runtime::graph::{Graph, takes};
///
/// const G: Graph = Graph::new("Stem", [3, 32, 32]);
/// assert!(takes(&G, &[3, 32, 32]));
/// assert!(!takes(&G, &[3, 32, 33]));
/// ```
pub const fn takes(graph: &Graph, input: &[usize]) -> bool {
    match input {
        [c, h, w] => *c == graph.input[0] && graph.takes([*h, *w]).is_ok(),
        _ => false,
    }
}

/// Whether `graph`, given `input`, gives an output of shape `output` (`[C, H, W]` or `[F]`).
///
/// ```
/// use stride_runtime::graph::{Graph, gives};
///
/// const G: Graph = Graph { output: &[10], ..Graph::new("Head", [64, 7, 7]) };
/// assert!(gives(&G, &[64, 7, 7], &[10]));
/// assert!(!gives(&G, &[64, 7, 7], &[100]));
/// ```
pub const fn gives(graph: &Graph, input: &[usize], output: &[usize]) -> bool {
    let [h, w] = match input {
        [_, h, w] => [*h, *w],
        _ => return false,
    };
    match (graph.output_at([h, w]), output) {
        (Some([c, oh, ow]), [ec, eh, ew]) => {
            graph.output.len() == 3 && c == *ec && oh == *eh && ow == *ew
        }
        (Some([f, _, _]), [ef]) => graph.output.len() == 1 && f == *ef,
        _ => false,
    }
}

/// Refuses an NCHW input whose height and width are not `size`: what `forward_at` checks of
/// the array it is given, after the constant has checked the size itself.
///
/// # Errors
/// [`Error::Shape`] naming `op`, with the expected `[N, C, H, W]`.
///
/// ```
/// use ndarray::Array4;
/// use stride_runtime::graph::check_size;
///
/// let x = Array4::<f32>::zeros((1, 3, 8, 9));
/// assert!(check_size("Net", &x.view(), [8, 9]).is_ok());
/// assert_eq!(
///     check_size("Net", &x.view(), [8, 8]).unwrap_err().to_string(),
///     "Net: input has shape [1, 3, 8, 9], expected [N, C, 8, 8]"
/// );
/// ```
pub fn check_size(
    op: &'static str,
    input: &ndarray::ArrayView4<'_, f32>,
    size: [usize; 2],
) -> Result<()> {
    let (_, _, h, w) = input.dim();
    if [h, w] == size {
        return Ok(());
    }
    Err(Error::Shape {
        op,
        tensor: "input",
        expected: format!("[N, C, {}, {}]", size[0], size[1]),
        got: input.shape().to_vec(),
    })
}
