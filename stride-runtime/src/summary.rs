//! A network's layer table, as torchinfo and Keras print it: each layer's output shape,
//! parameters, multiply-adds and receptive field.
//!
//! The `network!` macro knows all of it when it expands, and emits it as constant data
//! (`const SUMMARY: Summary = Summary { … }`); printing it costs nothing at run time beyond the
//! formatting. Counts follow `stride_geometry`'s rules: parameters are trainable tensors (batch
//! norm's running statistics are not counted), and MACs are those of convolutions and linear
//! layers, per sample.
//!
//! The summary also knows how the rows are joined: [`Summary::edges`] reads which rows feed
//! which (residual shortcuts, concat branches, squeeze-excitation gates) from the network's
//! structure, and [`Summary::picture`] draws the network as SVG or Graphviz DOT
//! ([`picture`]).

mod edges;
pub mod picture;

pub use edges::{Edge, EdgeKind, Source};
pub use picture::Picture;

use std::fmt;

use stride_geometry::FlowOp;

/// One layer's row in a [`Summary`].
///
/// ```
/// use stride_runtime::summary::LayerInfo;
///
/// const CONV1: LayerInfo = LayerInfo {
///     name: "conv1",
///     kind: "conv2d 7x7/2",
///     output: &[64, 112, 112],
///     params: 9_408,
///     macs: 118_013_952,
///     receptive_field: Some([7, 7]),
///     jump: Some([2, 2]),
/// };
/// assert_eq!(CONV1.params, 64 * 3 * 7 * 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerInfo {
    /// The layer's name in the network (and the prefix of its weights' keys).
    pub name: &'static str,
    /// What the layer is, briefly: `"conv2d 7x7/2"`, `"max_pool2d 3x3/2"`, `"relu"`.
    pub kind: &'static str,
    /// The output shape of one sample (no batch axis): `[64, 112, 112]`.
    pub output: &'static [usize],
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-adds per sample.
    pub macs: u64,
    /// Receptive field of one output pixel in input pixels, `[h, w]`; `None` once a layer
    /// upsamples (the field is not defined through a transposed convolution or a resize), or
    /// for layers without a spatial output.
    pub receptive_field: Option<[usize; 2]>,
    /// Distance in input pixels between neighbouring outputs (the product of strides so far),
    /// `[h, w]`; `None` where `receptive_field` is.
    pub jump: Option<[usize; 2]>,
}

/// A network's summary: its input and one [`LayerInfo`] per layer, with totals. Displays as an
/// aligned table.
///
/// The ResNet stem:
///
/// ```text
/// resnet18_stem: input [3, 224, 224]
/// layer    kind              output          params         MACs  receptive field
/// -------------------------------------------------------------------------------
/// conv1    conv2d 7x7/2      [64, 112, 112]   9,408  118,013,952  7x7, jump 2
/// bn1      batch_norm2d      [64, 112, 112]     128            0  7x7, jump 2
/// relu     relu              [64, 112, 112]       0            0  7x7, jump 2
/// maxpool  max_pool2d 3x3/2  [64, 56, 56]         0            0  11x11, jump 4
/// -------------------------------------------------------------------------------
/// total                                       9,536  118,013,952
/// 9,536 params (9.54 k), 118,013,952 MACs per sample (118.01 MMACs)
/// ```
///
/// ```
/// use stride_runtime::summary::{InputSize, LayerInfo, Summary};
///
/// const fn layer(
///     name: &'static str,
///     kind: &'static str,
///     output: &'static [usize],
///     params: u64,
///     macs: u64,
///     field: usize,
///     jump: usize,
/// ) -> LayerInfo {
///     LayerInfo {
///         name, kind, output, params, macs,
///         receptive_field: Some([field, field]),
///         jump: Some([jump, jump]),
///     }
/// }
///
/// const STEM: Summary = Summary {
///     name: "resnet18_stem",
///     input: &[3, 224, 224],
///     layers: &[
///         layer("conv1", "conv2d 7x7/2", &[64, 112, 112], 9_408, 118_013_952, 7, 2),
///         layer("bn1", "batch_norm2d", &[64, 112, 112], 128, 0, 7, 2),
///         layer("relu", "relu", &[64, 112, 112], 0, 0, 7, 2),
///         layer("maxpool", "max_pool2d 3x3/2", &[64, 56, 56], 0, 0, 11, 4),
///     ],
///     params: 9_536,
///     macs: 118_013_952,
///     sizes: [InputSize::fixed(224); 2],
///     // A plain sequence.
///     flow: &[],
/// };
///
/// assert_eq!(STEM.to_string(), "\
/// resnet18_stem: input [3, 224, 224]
/// layer    kind              output          params         MACs  receptive field
/// -------------------------------------------------------------------------------
/// conv1    conv2d 7x7/2      [64, 112, 112]   9,408  118,013,952  7x7, jump 2
/// bn1      batch_norm2d      [64, 112, 112]     128            0  7x7, jump 2
/// relu     relu              [64, 112, 112]       0            0  7x7, jump 2
/// maxpool  max_pool2d 3x3/2  [64, 56, 56]         0            0  11x11, jump 4
/// -------------------------------------------------------------------------------
/// total                                       9,536  118,013,952
/// 9,536 params (9.54 k), 118,013,952 MACs per sample (118.01 MMACs)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Summary {
    /// The network's name.
    pub name: &'static str,
    /// The input shape of one sample (no batch axis) that the rows are at.
    pub input: &'static [usize],
    /// The layers, in execution order.
    pub layers: &'static [LayerInfo],
    /// Total trainable parameters.
    pub params: u64,
    /// Total multiply-adds per sample.
    pub macs: u64,
    /// The sizes the network takes on each spatial axis: one, or (for an axis its declaration
    /// names) many, the rows being at the smallest.
    pub sizes: [InputSize; 2],
    /// How the rows are joined: the network's size program ([`Graph::flows`]'s height's),
    /// whose steps name every row once, in order, and mark where residuals, concats and gates
    /// begin, branch and join. [`Summary::edges`] reads the edges from it; an empty program is
    /// a plain sequence of the rows.
    ///
    /// [`Graph::flows`]: crate::graph::Graph::flows
    pub flow: &'static [FlowOp],
}

impl Summary {
    /// Which rows feed which: one [`Edge`] per input of each row, in the order of the rows
    /// they enter (a join's inputs in its order: a residual's main path, then its shortcut; a
    /// concat's branches; a gate's input, then the gate).
    ///
    /// A convolution whose input is added to its output:
    ///
    /// ```
    /// use stride_geometry::{AxisRule, FlowOp};
    /// use stride_runtime::summary::{Edge, EdgeKind, InputSize, LayerInfo, Source, Summary};
    ///
    /// const fn row(name: &'static str, kind: &'static str) -> LayerInfo {
    ///     LayerInfo {
    ///         name, kind, output: &[8, 4, 4], params: 0, macs: 0,
    ///         receptive_field: None, jump: None,
    ///     }
    /// }
    ///
    /// const BLOCK: Summary = Summary {
    ///     name: "Block",
    ///     input: &[8, 4, 4],
    ///     layers: &[row("conv", "conv2d 3x3"), row("add", "residual add")],
    ///     params: 0,
    ///     macs: 0,
    ///     sizes: [InputSize::fixed(4); 2],
    ///     flow: &[
    ///         FlowOp::Residual,
    ///         FlowOp::Layer { row: 0, rule: AxisRule::Keep },
    ///         FlowOp::EndResidual { row: 1 },
    ///     ],
    /// };
    ///
    /// assert_eq!(BLOCK.edges(), [
    ///     Edge { from: Source::Input, to: 0, kind: EdgeKind::Data },
    ///     Edge { from: Source::Row(0), to: 1, kind: EdgeKind::Data },
    ///     Edge { from: Source::Input, to: 1, kind: EdgeKind::Shortcut },
    /// ]);
    /// ```
    pub fn edges(&self) -> Vec<Edge> {
        edges::edges(self.flow, self.layers.len())
    }
}

/// The input sizes a network takes on one spatial axis.
///
/// ```
/// use stride_runtime::summary::InputSize;
///
/// assert_eq!(InputSize::fixed(224).to_string(), "224");
/// let h = InputSize { name: "H", min: 16, step: 16, regular: true };
/// assert_eq!(h.to_string(), "H from 16 in steps of 16");
/// assert!(h.takes(256) && !h.takes(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputSize {
    /// The name the declaration gives the axis (`H`); empty for a size fixed by a number.
    pub name: &'static str,
    /// The smallest size taken (the only one, for a fixed size).
    pub min: usize,
    /// The step between sizes taken; 0 for a fixed size.
    pub step: usize,
    /// Whether every `min + k * step` is taken. When not, the sizes taken repeat every `step`
    /// but some of them are refused; the network's size program decides each.
    pub regular: bool,
}

impl InputSize {
    /// One size, as a number in the declaration fixes it.
    pub const fn fixed(size: usize) -> Self {
        InputSize {
            name: "",
            min: size,
            step: 0,
            regular: true,
        }
    }

    /// Whether the axis takes any size but one.
    pub const fn is_generic(&self) -> bool {
        self.step != 0
    }

    /// Whether `size` is among `min + k * step` (or is the fixed size).
    pub const fn takes(&self, size: usize) -> bool {
        if self.step == 0 {
            size == self.min
        } else {
            size >= self.min && (size - self.min) % self.step == 0
        }
    }
}

impl fmt::Display for InputSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.step, self.regular) {
            (0, _) => write!(f, "{}", self.min),
            (1, true) => write!(f, "{} from {}", self.name, self.min),
            (step, true) => write!(f, "{} from {} in steps of {step}", self.name, self.min),
            (step, false) => write!(f, "{} from {}, some of every {step}", self.name, self.min),
        }
    }
}

/// The table's columns: header and whether the column is right-aligned (numbers are).
const COLUMNS: [(&str, bool); 6] = [
    ("layer", false),
    ("kind", false),
    ("output", false),
    ("params", true),
    ("MACs", true),
    ("receptive field", false),
];

/// Spaces between columns.
const GAP: usize = 2;

impl Summary {
    /// The table's first line: the name and input, and the sizes the network takes when it
    /// takes many.
    fn header(&self) -> String {
        match self.input {
            [c, h, w] if self.sizes.iter().any(InputSize::is_generic) => {
                let names = self.sizes.map(|s| {
                    if s.is_generic() {
                        s.name.to_string()
                    } else {
                        s.min.to_string()
                    }
                });
                let generic: Vec<String> = self
                    .sizes
                    .iter()
                    .filter(|s| s.is_generic())
                    .map(|s| s.to_string())
                    .collect();
                format!(
                    "{}: input [{c}, {}, {}], {}; the rows are at [{c}, {h}, {w}]",
                    self.name,
                    names[0],
                    names[1],
                    generic.join(", ")
                )
            }
            input => format!("{}: input {input:?}", self.name),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 6]> = self.layers.iter().map(row).collect();
        table(f, &self.header(), &rows, self.params, self.macs)
    }
}

/// The table: a header line, the rows, the totals.
fn table(
    f: &mut fmt::Formatter<'_>,
    header: &str,
    rows: &[[String; 6]],
    params: u64,
    macs: u64,
) -> fmt::Result {
    let total = [
        "total".to_string(),
        String::new(),
        String::new(),
        thousands(params),
        thousands(macs),
        String::new(),
    ];
    let mut widths = COLUMNS.map(|(header, _)| header.chars().count());
    for cells in rows.iter().chain([&total]) {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let rule = "-".repeat(widths.iter().sum::<usize>() + GAP * (widths.len() - 1));

    writeln!(f, "{header}")?;
    write_row(f, &COLUMNS.map(|(header, _)| header.to_string()), &widths)?;
    writeln!(f, "{rule}")?;
    for cells in rows {
        write_row(f, cells, &widths)?;
    }
    writeln!(f, "{rule}")?;
    write_row(f, &total, &widths)?;
    write!(
        f,
        "{} params ({}), {} MACs per sample ({}MACs)",
        thousands(params),
        scaled(params),
        thousands(macs),
        scaled(macs),
    )
}

/// A network's summary at one input size: [`Summary`]'s rows, with the shapes and
/// multiply-adds of that size. What a network that takes many sizes gives for each
/// (`summary_at`). Displays as the same table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SummaryAt {
    /// The network's name.
    pub name: &'static str,
    /// The input shape of one sample.
    pub input: [usize; 3],
    /// The layers, in execution order, at this size.
    pub layers: Vec<LayerAt>,
    /// Total trainable parameters.
    pub params: u64,
    /// Total multiply-adds per sample at this size.
    pub macs: u64,
    /// How the rows are joined, as [`Summary::flow`].
    pub flow: &'static [FlowOp],
}

impl SummaryAt {
    /// Which rows feed which, as [`Summary::edges`].
    pub fn edges(&self) -> Vec<Edge> {
        edges::edges(self.flow, self.layers.len())
    }
}

/// One row of a [`SummaryAt`]: a [`LayerInfo`] with its output shape and multiply-adds at one
/// input size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerAt {
    /// The row, as the network's summary has it.
    pub info: LayerInfo,
    /// The output shape of one sample at this size.
    pub output: Vec<usize>,
    /// Multiply-adds per sample at this size.
    pub macs: u64,
}

impl fmt::Display for SummaryAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 6]> = self
            .layers
            .iter()
            .map(|l| {
                let mut cells = row(&l.info);
                cells[2] = format!("{:?}", l.output);
                cells[4] = thousands(l.macs);
                cells
            })
            .collect();
        let header = format!("{}: input {:?}", self.name, self.input);
        table(f, &header, &rows, self.params, self.macs)
    }
}

/// The cells of one layer's row.
fn row(layer: &LayerInfo) -> [String; 6] {
    [
        layer.name.to_string(),
        layer.kind.to_string(),
        format!("{:?}", layer.output),
        thousands(layer.params),
        thousands(layer.macs),
        field(layer.receptive_field, layer.jump),
    ]
}

/// `7x7, jump 2`; `7x3, jump 2x1` when the axes differ; `-` when there is no field.
fn field(size: Option<[usize; 2]>, jump: Option<[usize; 2]>) -> String {
    let Some([h, w]) = size else {
        return "-".into();
    };
    match jump {
        Some([jh, jw]) if jh == jw => format!("{h}x{w}, jump {jh}"),
        Some([jh, jw]) => format!("{h}x{w}, jump {jh}x{jw}"),
        None => format!("{h}x{w}"),
    }
}

/// One line of the table, without trailing spaces.
fn write_row(f: &mut fmt::Formatter<'_>, cells: &[String; 6], widths: &[usize; 6]) -> fmt::Result {
    let mut line = String::new();
    for (i, ((cell, width), (_, right))) in cells.iter().zip(widths).zip(COLUMNS).enumerate() {
        if i > 0 {
            line.push_str(&" ".repeat(GAP));
        }
        let pad = " ".repeat(width - cell.chars().count());
        if right {
            line.push_str(&pad);
            line.push_str(cell);
        } else {
            line.push_str(cell);
            line.push_str(&pad);
        }
    }
    writeln!(f, "{}", line.trim_end())
}

/// `1,814,073,344` for 1814073344.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1.81 G` for 1814073344, with SI prefixes (k, M, G, T); small numbers as they are, with a
/// trailing space so that a unit can follow directly.
fn scaled(n: u64) -> String {
    const PREFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    let x = n as f64;
    match PREFIXES.iter().find(|(scale, _)| x >= *scale) {
        Some((scale, prefix)) => format!("{:.2} {prefix}", x / scale),
        None => format!("{n} "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separates_every_three_digits_from_the_right() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(11_689_512), "11,689,512");
        assert_eq!(thousands(1_814_073_344), "1,814,073,344");
    }

    #[test]
    fn scaled_picks_the_largest_prefix_below_the_number() {
        assert_eq!(scaled(1_814_073_344), "1.81 G");
        assert_eq!(scaled(11_689_512), "11.69 M");
        assert_eq!(scaled(9_536), "9.54 k");
        assert_eq!(scaled(12), "12 ");
    }

    #[test]
    fn receptive_field_shows_both_axes_and_the_jump_once_when_they_agree() {
        assert_eq!(field(Some([7, 7]), Some([2, 2])), "7x7, jump 2");
        assert_eq!(field(Some([7, 3]), Some([2, 1])), "7x3, jump 2x1");
        assert_eq!(field(None, None), "-");
    }

    #[test]
    fn totals_widen_their_columns_and_read_as_gigamacs() {
        const RESNET18: Summary = Summary {
            name: "resnet18",
            input: &[3, 224, 224],
            layers: &[LayerInfo {
                name: "fc",
                kind: "linear 512->1000",
                output: &[1000],
                params: 513_000,
                macs: 512_000,
                receptive_field: None,
                jump: None,
            }],
            params: 11_689_512,
            macs: 1_814_073_344,
            sizes: [InputSize::fixed(224); 2],
            flow: &[],
        };
        // The totals are wider than any layer's cells, and widen their columns.
        assert_eq!(
            RESNET18.to_string(),
            "\
resnet18: input [3, 224, 224]
layer  kind              output      params           MACs  receptive field
---------------------------------------------------------------------------
fc     linear 512->1000  [1000]     513,000        512,000  -
---------------------------------------------------------------------------
total                            11,689,512  1,814,073,344
11,689,512 params (11.69 M), 1,814,073,344 MACs per sample (1.81 GMACs)"
        );
    }
}
