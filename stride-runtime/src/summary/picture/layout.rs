//! Where the SVG's boxes and edges go, from the network's structure.
//!
//! Each piece of the structure is laid out as a [`Frame`]: a rectangle whose x axis is
//! centred on its spine (the column its input enters and its output leaves by), holding its
//! boxes. A sequence stacks its pieces on one spine; a residual, a concat or a gate puts its
//! paths side by side and its join below them on the spine. Frames never overlap, so neither
//! do boxes. An edge leaves its source's bottom, runs down the source's column to the gap
//! above its target and across to it; an edge that skips a whole path (a residual without a
//! shortcut, a concat branch without a layer) runs down a lane its frame keeps free for it.

use std::collections::HashMap;

use super::cards::Picture;
use crate::summary::edges::{Block, Source};

/// Width of one character of the monospace font at the SVG's 12 px.
pub(super) const CHAR: f64 = 7.3;
/// Height of a line of text.
pub(super) const LINE: f64 = 15.0;
/// Padding inside a box, across and down.
pub(super) const PAD: [f64; 2] = [9.0, 5.0];
/// Space between side-by-side paths.
const GAP_X: f64 = 26.0;
/// Space between a box and the next one down.
const GAP_Y: f64 = 28.0;
/// The width a skipping edge's lane takes.
const LANE: f64 = 34.0;
/// Margin around the picture.
pub(super) const MARGIN: f64 = 16.0;
/// Height of the title line.
pub(super) const TITLE: f64 = 26.0;

/// A box, from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The picture laid out.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub width: f64,
    pub height: f64,
    /// One per card: the input, then the rows.
    pub boxes: Vec<Rect>,
    /// One polyline per edge of the picture, in its order.
    pub routes: Vec<Vec<(f64, f64)>>,
}

/// A laid-out piece: boxes by card index, at x relative to the spine and y from the top.
#[derive(Debug, Default)]
struct Frame {
    left: f64,
    right: f64,
    height: f64,
    boxes: Vec<(usize, f64, f64)>,
    /// The x of the lane for the edge between two cards.
    lanes: Vec<((usize, usize), f64)>,
}

impl Frame {
    /// A frame of one box, centred on the spine.
    fn card(card: usize, size: [f64; 2]) -> Frame {
        let [w, h] = size;
        Frame {
            left: -w / 2.0,
            right: w / 2.0,
            height: h,
            boxes: vec![(card, -w / 2.0, 0.0)],
            lanes: Vec::new(),
        }
    }

    /// Takes `other`'s boxes and lanes, moved by `dx` and `dy`.
    fn absorb(&mut self, other: Frame, dx: f64, dy: f64) {
        self.left = self.left.min(other.left + dx);
        self.right = self.right.max(other.right + dx);
        self.height = self.height.max(other.height + dy);
        self.boxes.extend(
            other
                .boxes
                .into_iter()
                .map(|(card, x, y)| (card, x + dx, y + dy)),
        );
        self.lanes
            .extend(other.lanes.into_iter().map(|(edge, x)| (edge, x + dx)));
    }

    /// Where a box below this frame goes: after a gap, unless the frame is empty.
    fn below(&self) -> f64 {
        if self.height > 0.0 {
            self.height + GAP_Y
        } else {
            0.0
        }
    }

    /// Puts `paths` side by side from the left, each after a gap; returns the frame and the x
    /// of each path's spine.
    fn side_by_side(paths: Vec<Frame>) -> (Frame, Vec<f64>) {
        let mut frame = Frame::default();
        let mut spines = Vec::with_capacity(paths.len());
        let mut cursor = 0.0;
        for (i, path) in paths.into_iter().enumerate() {
            if i > 0 {
                cursor += GAP_X;
            }
            let dx = cursor - path.left;
            cursor = path.right + dx;
            spines.push(dx);
            frame.absorb(path, dx, 0.0);
        }
        (frame, spines)
    }
}

/// The card index of a source: 0 for the input, `1 + row` for a row.
pub(super) fn card_of(source: Source) -> usize {
    match source {
        Source::Input => 0,
        Source::Row(row) => row + 1,
    }
}

/// The size of card `index`'s box, from its text.
pub(super) fn size(picture: &Picture, index: usize) -> [f64; 2] {
    let lines = &picture.cards[index].lines;
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    [
        chars as f64 * CHAR + 2.0 * PAD[0],
        lines.len() as f64 * LINE + 2.0 * PAD[1],
    ]
}

/// The layout of `picture`: the input's box on top, the network's structure below it.
pub(super) fn layout(picture: &Picture) -> Layout {
    let sizes: Vec<[f64; 2]> = (0..picture.cards.len()).map(|i| size(picture, i)).collect();
    let mut frame = Frame::card(0, sizes[0]);
    let body = sequence(&picture.blocks, Source::Input, &sizes);
    let below = frame.below();
    frame.absorb(body, 0.0, below);

    let title = picture.title.chars().count() as f64 * CHAR * 14.0 / 12.0;
    let width = (frame.right - frame.left).max(title) + 2.0 * MARGIN;
    let height = frame.height + 2.0 * MARGIN + TITLE;
    let [dx, dy] = [MARGIN - frame.left, MARGIN + TITLE];
    let mut boxes = vec![
        Rect {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0
        };
        picture.cards.len()
    ];
    // On whole pixels, so that a box's centre and every point of a route are written
    // exactly: an edge that runs straight down stays straight.
    for &(card, x, y) in &frame.boxes {
        let [w, h] = sizes[card];
        boxes[card] = Rect {
            x: (x + dx).round(),
            y: (y + dy).round(),
            w: w.round(),
            h: h.round(),
        };
    }
    let lanes: HashMap<(usize, usize), f64> = frame
        .lanes
        .iter()
        .map(|&(edge, x)| (edge, (x + dx).round()))
        .collect();
    let routes = picture
        .edges
        .iter()
        .map(|e| {
            let (from, to) = (card_of(e.from), e.to + 1);
            route(boxes[from], boxes[to], lanes.get(&(from, to)).copied())
        })
        .collect();
    Layout {
        width,
        height,
        boxes,
        routes,
    }
}

/// The polyline of an edge from the bottom of `from` into `to`: down the source's column to
/// the gap above the target, across, and down into its top; or, through a lane, across to the
/// lane in the gap below the source, down the lane, and into the target's side.
fn route(from: Rect, to: Rect, lane: Option<f64>) -> Vec<(f64, f64)> {
    let (sx, sy) = (from.x + from.w / 2.0, from.y + from.h);
    let (tx, ty) = (to.x + to.w / 2.0, to.y);
    let half = GAP_Y / 2.0;
    let mut points = vec![(sx, sy)];
    match lane {
        // Down the lane and into the target's nearer side, or its top if the lane is above it.
        Some(x) => {
            points.extend([(sx, sy + half), (x, sy + half)]);
            let middle = ty + to.h / 2.0;
            if x > to.x + to.w {
                points.extend([(x, middle), (to.x + to.w, middle)]);
            } else if x < to.x {
                points.extend([(x, middle), (to.x, middle)]);
            } else {
                points.push((x, ty));
            }
        }
        None => points.extend([(sx, ty - half), (tx, ty - half), (tx, ty)]),
    }
    points.dedup_by(|a, b| (a.0 - b.0).abs() < 0.05 && (a.1 - b.1).abs() < 0.05);
    points
}

/// A sequence of blocks from `input`, on one spine.
fn sequence(blocks: &[Block], input: Source, sizes: &[[f64; 2]]) -> Frame {
    let mut frame = Frame::default();
    let mut tail = input;
    for block in blocks {
        let piece = self::block(block, tail, sizes);
        let y = frame.below();
        frame.absorb(piece, 0.0, y);
        tail = Source::Row(block.exit());
    }
    frame
}

/// One block from `input`: its paths side by side, its join below them on the spine.
fn block(block: &Block, input: Source, sizes: &[[f64; 2]]) -> Frame {
    let from = card_of(input);
    let (paths, spine, join) = match block {
        Block::Row(row) => return Frame::card(row + 1, sizes[row + 1]),
        Block::Residual {
            main,
            shortcut,
            add,
        } => {
            let main = sequence(main, input, sizes);
            let side = match shortcut {
                Some(path) => sequence(path, input, sizes),
                None => lane(from, add + 1),
            };
            (vec![main, side], Spine::First, *add)
        }
        Block::Concat { branches, join } => {
            let paths = branches
                .iter()
                .map(|branch| match branch.as_slice() {
                    [] => lane(from, join + 1),
                    _ => sequence(branch, input, sizes),
                })
                .collect();
            (paths, Spine::Middle, *join)
        }
        Block::Gate { gate, scale } => {
            let path = sequence(gate, input, sizes);
            // The line from the input to the scale takes the left column.
            (vec![Frame::default(), path], Spine::First, *scale)
        }
    };
    let count = paths.len();
    let (frame, spines) = Frame::side_by_side(paths);
    let centre = match spine {
        Spine::First => spines[0],
        Spine::Middle => (spines[0] + spines[count - 1]) / 2.0,
    };
    let y = frame.below();
    let mut centred = Frame::default();
    centred.absorb(frame, -centre, 0.0);
    centred.absorb(Frame::card(join + 1, sizes[join + 1]), 0.0, y);
    centred
}

/// Which spine a block with several paths keeps.
enum Spine {
    /// Its first path's: the main path's, or the gated input's.
    First,
    /// Midway between its first and last paths': a concat's.
    Middle,
}

/// An empty path that keeps a lane for the edge from card `from` to card `to`.
fn lane(from: usize, to: usize) -> Frame {
    Frame {
        left: -LANE / 2.0,
        right: LANE / 2.0,
        height: 0.0,
        boxes: Vec::new(),
        lanes: vec![((from, to), 0.0)],
    }
}
