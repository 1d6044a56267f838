//! A picture's content: one card per row (and one for the input) with its text and colour,
//! the edges, and the structure they are laid out by; and how a summary makes one.

use stride_geometry::FlowOp;

use crate::summary::edges::{self, Block, Edge};
use crate::summary::{LayerInfo, Summary, SummaryAt, field, thousands};

/// A network's picture, ready to write as SVG or DOT.
#[derive(Debug, Clone)]
pub struct Picture {
    /// The network's name.
    pub(super) name: String,
    /// `"ResNet18: input [3, 224, 224]"`.
    pub(super) title: String,
    /// The input's card, then one per row.
    pub(super) cards: Vec<Card>,
    pub(super) edges: Vec<Edge>,
    pub(super) blocks: Vec<Block>,
}

/// One box: its lines of text (the first, its name, in bold), a longer description for a
/// tooltip, and its colour.
#[derive(Debug, Clone)]
pub(super) struct Card {
    pub(super) lines: Vec<String>,
    pub(super) tooltip: String,
    pub(super) class: Class,
}

/// What a box holds, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
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
    pub(super) fn fill(self) -> &'static str {
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
    /// [`Summary::flow`]).
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

    /// The edges drawn, as [`Summary::edges`] gives them.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }
}

impl Summary {
    /// The picture of the network: one box per row with its kind, output shape and receptive
    /// field, joined by [`Summary::edges`]; [`Picture::svg`] and [`Picture::dot`] write it.
    pub fn picture(&self) -> Picture {
        let mut picture = Picture::new(
            self.name,
            self.input,
            self.layers.iter().map(|l| (l, l.output)),
            self.flow,
        );
        picture.title = self.header();
        picture
    }
}

impl SummaryAt {
    /// The picture of the network at this size, as [`Summary::picture`].
    pub fn picture(&self) -> Picture {
        Picture::new(
            self.name,
            &self.input,
            self.layers.iter().map(|l| (&l.info, l.output.as_slice())),
            self.flow,
        )
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
