//! Which layers a network fuses for inference. A decision about the plan, made here so that
//! `expand.rs` only writes it down.

use crate::model::{Node, Op, Planned};

/// Groups each convolution (or transposed convolution) with the batch norm right after it, and
/// the activation right after that; and gives a residual the activation after it when its
/// main path ends in such a group without one, so that the group's convolution can add the
/// shortcut and apply the activation as it writes its output.
pub(super) fn fusions(nodes: Vec<Node>) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let mut nodes = nodes.into_iter().peekable();
    while let Some(node) = nodes.next() {
        let node = match node {
            Node::Residual {
                name,
                main,
                shortcut,
                output,
                after,
            } => Node::Residual {
                name,
                main: fusions(main),
                shortcut: shortcut.map(fusions),
                output,
                after,
            },
            Node::Concat {
                name,
                branches,
                output,
            } => Node::Concat {
                name,
                branches: branches.into_iter().map(fusions).collect(),
                output,
            },
            other => other,
        };
        match node {
            Node::Layer(conv) if is_conv(&conv) && nodes.peek().is_some_and(is_batch_norm) => {
                let Some(Node::Layer(bn)) = nodes.next() else {
                    unreachable!("peeked a batch norm")
                };
                let act = match nodes.peek() {
                    Some(Node::Layer(l)) if matches!(l.op, Op::Activation(_)) => match nodes.next()
                    {
                        Some(Node::Layer(act)) => Some(act),
                        _ => unreachable!("peeked an activation"),
                    },
                    _ => None,
                };
                out.push(Node::Fused { conv, bn, act });
            }
            Node::Residual {
                name,
                main,
                shortcut,
                output,
                after: None,
            } if ends_in_open_group(&main) => {
                let after = match nodes.peek() {
                    Some(Node::Layer(l)) if matches!(l.op, Op::Activation(_)) => match nodes.next()
                    {
                        Some(Node::Layer(act)) => Some(act),
                        _ => unreachable!("peeked an activation"),
                    },
                    _ => None,
                };
                out.push(Node::Residual {
                    name,
                    main,
                    shortcut,
                    output,
                    after,
                });
            }
            other => out.push(other),
        }
    }
    out
}

fn is_conv(layer: &Planned) -> bool {
    matches!(layer.op, Op::Conv2d(_) | Op::ConvTranspose2d(_))
}

fn is_batch_norm(node: &Node) -> bool {
    matches!(node, Node::Layer(l) if matches!(l.op, Op::BatchNorm2d { .. }))
}

/// Whether `main` ends in a convolution group without an activation of its own.
fn ends_in_open_group(main: &[Node]) -> bool {
    matches!(main.last(), Some(Node::Fused { conv, act: None, .. }) if matches!(conv.op, Op::Conv2d(_)))
}
