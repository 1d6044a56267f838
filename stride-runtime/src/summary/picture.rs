//! The picture of a network: one box per summary row (its name, kind, output shape and
//! receptive field) joined by the row's [`Edge`]s, as SVG ([`Picture::svg`], laid out here) or
//! Graphviz DOT ([`Picture::dot`], for Graphviz to lay out).
//!
//! The SVG's layout follows the network's structure rather than searching for one: a
//! sequence runs down one column; a residual's main path keeps the column while its shortcut
//! (or, when it has none, the skip edge in a lane of its own) runs beside it to the add; a
//! concat's branches stand side by side between their input and the join; a gate's side path
//! runs beside the line from its input to the `scale`. Each piece takes a rectangle of its
//! own, so boxes never overlap, and each edge runs down its own column and across in the gap
//! above the box it enters, so an edge never crosses a box. It costs time linear in the rows
//! times the depth of nesting.
//!
//! ```
//! use stride_geometry::{AxisRule, FlowOp};
//! use stride_runtime::summary::{InputSize, LayerInfo, Summary};
//!
//! const fn row(name: &'static str, kind: &'static str) -> LayerInfo {
//!     LayerInfo {
//!         name, kind, output: &[8, 4, 4], params: 0, macs: 0,
//!         receptive_field: Some([3, 3]), jump: Some([1, 1]),
//!     }
//! }
//!
//! const BLOCK: Summary = Summary {
//!     name: "Block",
//!     input: &[8, 4, 4],
//!     layers: &[row("conv", "conv2d 3x3/1"), row("add", "residual add")],
//!     params: 0,
//!     macs: 0,
//!     sizes: [InputSize::fixed(4); 2],
//!     flow: &[
//!         FlowOp::Residual,
//!         FlowOp::Layer { row: 0, rule: AxisRule::Keep },
//!         FlowOp::EndResidual { row: 1 },
//!     ],
//! };
//!
//! let picture = BLOCK.picture();
//! let svg = picture.svg();
//! assert!(svg.starts_with("<svg") && svg.contains("conv2d 3x3/1"));
//! assert!(picture.dot().contains("input -> r1 [style=dashed"));
//! ```

mod dot;
mod layout;
mod svg;

use stride_geometry::FlowOp;

use super::edges::{self, Block, Edge};
use super::{LayerInfo, field, thousands};

/// A network's picture, ready to write as SVG or DOT.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The network's name.
    name: String,
    /// `"ResNet18: input [3, 224, 224]"`.
    title: String,
    /// The input's card, then one per row.
    cards: Vec<Card>,
    edges: Vec<Edge>,
    blocks: Vec<Block>,
}

/// One box: its lines of text (the first, its name, in bold), a longer description for a
/// tooltip, and its colour.
#[derive(Debug, Clone)]
struct Card {
    lines: Vec<String>,
    tooltip: String,
    class: Class,
}

/// What a box holds, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Input,
    Conv,
    Norm,
    Activation,
    Pool,
    Linear,
    Join,
    Other,
}

/// The activations' kinds, as the summary writes them (their first word).
const ACTIVATIONS: &[&str] = &[
    "relu",
    "relu6",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "silu",
    "gelu",
    "hardswish",
    "hardsigmoid",
];

impl Class {
    fn of(kind: &str) -> Class {
        let first = kind.split(' ').next().unwrap_or("");
        match first {
            _ if matches!(kind, "residual add" | "concat" | "scale") => Class::Join,
            _ if first.starts_with("conv") || first == "pixel_linear" => Class::Conv,
            _ if first.contains("norm") || first == "layer_scale" => Class::Norm,
            _ if first.contains("pool") => Class::Pool,
            "linear" => Class::Linear,
            _ if ACTIVATIONS.contains(&first) => Class::Activation,
            _ => Class::Other,
        }
    }

    /// Fill colour, light enough for black text.
    fn fill(self) -> &'static str {
        match self {
            Class::Input => "#e2e8f0",
            Class::Conv => "#dbeafe",
            Class::Norm => "#fef9c3",
            Class::Activation => "#dcfce7",
            Class::Pool => "#fce7f3",
            Class::Linear => "#ede9fe",
            Class::Join => "#ffedd5",
            Class::Other => "#f1f5f9",
        }
    }
}

impl Picture {
    /// The picture of network `name` on input `input`, with one row per item of `rows` (its
    /// summary row and its output shape), joined as `flow` says (see
    /// [`Summary::flow`](super::Summary::flow)).
    pub fn new<'a>(
        name: &str,
        input: &[usize],
        rows: impl IntoIterator<Item = (&'a LayerInfo, &'a [usize])>,
        flow: &[FlowOp],
    ) -> Picture {
        let mut cards = vec![Card {
            lines: vec!["input".into(), format!("{input:?}")],
            tooltip: format!("{name}: input {input:?}"),
            class: Class::Input,
        }];
        cards.extend(rows.into_iter().map(|(info, output)| card(info, output)));
        let rows = cards.len() - 1;
        Picture {
            name: name.to_string(),
            title: format!("{name}: input {input:?}"),
            cards,
            edges: edges::edges(flow, rows),
            blocks: edges::structure(flow, rows),
        }
    }

    /// The picture with `title` over it in place of `"{name}: input [..]"`.
    pub(super) fn titled(mut self, title: String) -> Picture {
        self.title = title;
        self
    }

    /// The edges drawn, as [`Summary::edges`](super::Summary::edges) gives them.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The picture as an SVG document, laid out by the network's structure: one `<g
    /// class="layer">` per row and one `<polyline class="edge …">` per edge, each naming the
    /// rows it joins (`data-from`, `data-to`: a row's index, or `input`).
    pub fn svg(&self) -> String {
        svg::write(self, &layout::layout(self))
    }

    /// The picture as a Graphviz DOT digraph: the input `input`, row `i` as node `r{i}`,
    /// shortcuts dashed and gates dotted. `dot -Tsvg` lays it out.
    pub fn dot(&self) -> String {
        dot::write(self)
    }
}

/// A row's box: its name, kind, and output shape with its receptive field.
fn card(info: &LayerInfo, output: &[usize]) -> Card {
    let mut shape = format!("{output:?}");
    if let Some([h, w]) = info.receptive_field {
        shape.push_str(&format!("  rf {h}x{w}"));
    }
    Card {
        lines: vec![info.name.to_string(), info.kind.to_string(), shape],
        tooltip: format!(
            "{}: {}, output {output:?}, {} params, {} MACs, receptive field {}",
            info.name,
            info.kind,
            thousands(info.params),
            thousands(info.macs),
            field(info.receptive_field, info.jump),
        ),
        class: Class::of(info.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_coloured_by_what_they_do() {
        assert_eq!(Class::of("conv2d 7x7/2"), Class::Conv);
        assert_eq!(Class::of("conv_transpose2d 4x4/2"), Class::Conv);
        assert_eq!(Class::of("batch_norm2d"), Class::Norm);
        assert_eq!(Class::of("relu"), Class::Activation);
        assert_eq!(Class::of("gelu tanh"), Class::Activation);
        assert_eq!(Class::of("max_pool2d 3x3/2"), Class::Pool);
        assert_eq!(Class::of("adaptive_avg_pool2d 1x1"), Class::Pool);
        assert_eq!(Class::of("linear"), Class::Linear);
        assert_eq!(Class::of("residual add"), Class::Join);
        assert_eq!(Class::of("concat"), Class::Join);
        assert_eq!(Class::of("scale"), Class::Join);
        assert_eq!(Class::of("flatten"), Class::Other);
    }
}
