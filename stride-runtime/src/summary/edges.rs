//! Which rows feed which, read from the network's structure: the size program that
//! `network!` emits with every graph names each row once, in execution order, and marks where
//! a residual, a concat or a gate begins, branches and joins. Nesting those marks gives the
//! structure as [`Block`]s; walking the blocks from the input gives the edges.

use stride_geometry::FlowOp;

/// Where an [`Edge`] starts: the network's input, or a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The network's input.
    Input,
    /// A row of the summary, by index.
    Row(usize),
}

/// What an [`Edge`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// The data along a path: a sequence, a residual's main path, a concat's branch.
    Data,
    /// A residual's shortcut: its layers (a downsampling convolution) or, when it has none,
    /// the input itself, skipping the main path to the add.
    Shortcut,
    /// A gate's side path: its layers, and its output into the `scale` that multiplies the
    /// input by it (squeeze-excitation).
    Gate,
}

/// One input of a row: the row or input it comes from, and what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Edge {
    /// Where it comes from.
    pub from: Source,
    /// The row it enters.
    pub to: usize,
    /// What it carries.
    pub kind: EdgeKind,
}

/// A piece of the network's structure, rows by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// One row: a layer, or a network from another invocation.
    Row(usize),
    /// `add`'s row joins the main path and the shortcut (the input itself when `None`).
    Residual {
        main: Vec<Block>,
        shortcut: Option<Vec<Block>>,
        add: usize,
    },
    /// `join`'s row concatenates the branches, each from the same input.
    Concat {
        branches: Vec<Vec<Block>>,
        join: usize,
    },
    /// `scale`'s row multiplies the input by the gate's output.
    Gate { gate: Vec<Block>, scale: usize },
}

impl Block {
    /// The row whose output is the block's.
    pub(crate) fn exit(&self) -> usize {
        match *self {
            Block::Row(row)
            | Block::Residual { add: row, .. }
            | Block::Concat { join: row, .. }
            | Block::Gate { scale: row, .. } => row,
        }
    }
}

/// The structure of `rows` rows as `flow` gives it; the rows in sequence when `flow` does not
/// name each of them exactly once in well-nested branches (an empty program, or one written by
/// hand).
pub(crate) fn structure(flow: &[FlowOp], rows: usize) -> Vec<Block> {
    nest(flow, rows).unwrap_or_else(|| (0..rows).map(Block::Row).collect())
}

/// A structure that is begun and waits for its end.
enum Open {
    /// The main path once the shortcut has begun.
    Residual(Option<Vec<Block>>),
    /// The branches ended so far.
    Concat(Vec<Vec<Block>>),
    Gate,
}

/// The blocks of a well-nested program that names each row once; `None` otherwise.
fn nest(flow: &[FlowOp], rows: usize) -> Option<Vec<Block>> {
    let mut seen = vec![false; rows];
    let mut visit = |row: usize| -> Option<usize> {
        let fresh = seen.get_mut(row).filter(|s| !**s)?;
        *fresh = true;
        Some(row)
    };
    // The sequence being built, and under it, each open structure with the sequence it is in.
    let mut current = Vec::new();
    let mut open: Vec<(Open, Vec<Block>)> = Vec::new();
    for op in flow {
        match *op {
            FlowOp::Layer { row, .. } => current.push(Block::Row(visit(row)?)),
            FlowOp::Residual => open.push((Open::Residual(None), std::mem::take(&mut current))),
            FlowOp::Concat => open.push((Open::Concat(Vec::new()), std::mem::take(&mut current))),
            FlowOp::Gate => open.push((Open::Gate, std::mem::take(&mut current))),
            FlowOp::Shortcut => match open.last_mut() {
                Some((Open::Residual(main @ None), _)) => {
                    *main = Some(std::mem::take(&mut current))
                }
                _ => return None,
            },
            FlowOp::Branch => match open.last_mut() {
                Some((Open::Concat(branches), _)) => branches.push(std::mem::take(&mut current)),
                _ => return None,
            },
            FlowOp::EndResidual { row } => {
                let (Open::Residual(main), outer) = open.pop()? else {
                    return None;
                };
                let path = std::mem::replace(&mut current, outer);
                let (main, shortcut) = match main {
                    Some(main) => (main, Some(path)),
                    None => (path, None),
                };
                current.push(Block::Residual {
                    main,
                    shortcut,
                    add: visit(row)?,
                });
            }
            FlowOp::EndConcat { row } => {
                let (Open::Concat(mut branches), outer) = open.pop()? else {
                    return None;
                };
                branches.push(std::mem::replace(&mut current, outer));
                current.push(Block::Concat {
                    branches,
                    join: visit(row)?,
                });
            }
            FlowOp::EndGate { row } => {
                let (Open::Gate, outer) = open.pop()? else {
                    return None;
                };
                let gate = std::mem::replace(&mut current, outer);
                current.push(Block::Gate {
                    gate,
                    scale: visit(row)?,
                });
            }
        }
    }
    (open.is_empty() && seen.iter().all(|s| *s)).then_some(current)
}

/// The edges of `rows` rows joined as `flow` says, in the order of the rows they enter.
pub(crate) fn edges(flow: &[FlowOp], rows: usize) -> Vec<Edge> {
    let mut out = Vec::with_capacity(rows + rows / 4);
    walk(
        &structure(flow, rows),
        Source::Input,
        EdgeKind::Data,
        &mut out,
    );
    // Stable: a join's inputs keep their order.
    out.sort_by_key(|e| e.to);
    out
}

/// Adds the edges of `blocks`, which start from `input` along a path carrying `kind`; returns
/// their output.
fn walk(blocks: &[Block], input: Source, kind: EdgeKind, out: &mut Vec<Edge>) -> Source {
    let mut tail = input;
    for block in blocks {
        let mut edge = |from, to, kind| out.push(Edge { from, to, kind });
        match block {
            Block::Row(row) => edge(tail, *row, kind),
            Block::Residual {
                main,
                shortcut,
                add,
            } => {
                let end = walk(main, tail, kind, out);
                out.push(Edge {
                    from: end,
                    to: *add,
                    kind,
                });
                let skip = match shortcut {
                    Some(path) => walk(path, tail, EdgeKind::Shortcut, out),
                    None => tail,
                };
                out.push(Edge {
                    from: skip,
                    to: *add,
                    kind: EdgeKind::Shortcut,
                });
            }
            Block::Concat { branches, join } => {
                for branch in branches {
                    let end = walk(branch, tail, kind, out);
                    out.push(Edge {
                        from: end,
                        to: *join,
                        kind,
                    });
                }
            }
            Block::Gate { gate, scale } => {
                edge(tail, *scale, kind);
                let end = walk(gate, tail, EdgeKind::Gate, out);
                out.push(Edge {
                    from: end,
                    to: *scale,
                    kind: EdgeKind::Gate,
                });
            }
        }
        tail = Source::Row(block.exit());
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use stride_geometry::AxisRule;

    const fn layer(row: usize) -> FlowOp {
        FlowOp::Layer {
            row,
            rule: AxisRule::Keep,
        }
    }

    fn edge(from: Option<usize>, to: usize, kind: EdgeKind) -> Edge {
        let from = from.map_or(Source::Input, Source::Row);
        Edge { from, to, kind }
    }

    #[test]
    fn a_residual_with_a_shortcut_joins_both_paths_at_the_add() {
        // conv(0) then a block: main conv(1) bn(2), shortcut conv(3), add(4), relu(5).
        let flow = [
            layer(0),
            FlowOp::Residual,
            layer(1),
            layer(2),
            FlowOp::Shortcut,
            layer(3),
            FlowOp::EndResidual { row: 4 },
            layer(5),
        ];
        use EdgeKind::*;
        assert_eq!(
            edges(&flow, 6),
            [
                edge(None, 0, Data),
                edge(Some(0), 1, Data),
                edge(Some(1), 2, Data),
                edge(Some(0), 3, Shortcut),
                edge(Some(2), 4, Data),
                edge(Some(3), 4, Shortcut),
                edge(Some(4), 5, Data),
            ]
        );
    }

    #[test]
    fn a_concat_takes_each_branch_from_the_same_input_and_an_empty_branch_is_the_input() {
        // Branches: conv(0); nothing; pool(1) conv(2); joined at row 3.
        let flow = [
            FlowOp::Concat,
            layer(0),
            FlowOp::Branch,
            FlowOp::Branch,
            layer(1),
            layer(2),
            FlowOp::EndConcat { row: 3 },
        ];
        use EdgeKind::*;
        assert_eq!(
            edges(&flow, 4),
            [
                edge(None, 0, Data),
                edge(None, 1, Data),
                edge(Some(1), 2, Data),
                edge(Some(0), 3, Data),
                edge(None, 3, Data),
                edge(Some(2), 3, Data),
            ]
        );
    }

    #[test]
    fn a_gate_multiplies_its_input_by_its_side_path() {
        // conv(0), gate: pool(1) conv(2) sigmoid(3), scale(4).
        let flow = [
            layer(0),
            FlowOp::Gate,
            layer(1),
            layer(2),
            layer(3),
            FlowOp::EndGate { row: 4 },
        ];
        use EdgeKind::*;
        assert_eq!(
            edges(&flow, 5),
            [
                edge(None, 0, Data),
                edge(Some(0), 1, Gate),
                edge(Some(1), 2, Gate),
                edge(Some(2), 3, Gate),
                edge(Some(0), 4, Data),
                edge(Some(3), 4, Gate),
            ]
        );
    }

    #[test]
    fn a_program_that_does_not_name_every_row_once_reads_as_a_sequence() {
        let chain = [
            edge(None, 0, EdgeKind::Data),
            edge(Some(0), 1, EdgeKind::Data),
        ];
        // Empty, as a graph written by hand has it.
        assert_eq!(edges(&[], 2), chain);
        // A row twice; an end without a beginning; a beginning without an end.
        assert_eq!(edges(&[layer(0), layer(0)], 2), chain);
        assert_eq!(edges(&[layer(0), FlowOp::EndConcat { row: 1 }], 2), chain);
        assert_eq!(edges(&[FlowOp::Gate, layer(0), layer(1)], 2), chain);
        // A row the summary does not have.
        assert_eq!(edges(&[layer(0), layer(7)], 2), chain);
    }
}
