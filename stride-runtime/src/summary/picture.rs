//! The picture of a network: one box per summary row (its name, kind, output shape and
//! receptive field) joined by the rows' [edges](super::Edge), as SVG ([`Picture::svg`], laid
//! out here) or Graphviz DOT ([`Picture::dot`], for Graphviz to lay out).
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

mod cards;
mod dot;
mod layout;
mod svg;

pub use cards::Picture;
