//! The rules for branches: a residual's main path and shortcut, and a concat's branches.

use proc_macro2::Span;
use stride_geometry::Field;
use syn::Ident;
use syn::ext::IdentExt;

use super::walk::{Scope, Walk, branch_names, report_duplicates};
use super::{cause, plan};
use crate::model::{ANY, Shape, Tree};
use crate::parse::{Branch, Entry, Target};

impl Walk<'_> {
    /// `residual { main } shortcut name: target`: the main path's output plus the input. The
    /// shortcut runs when the main path changes the shape (torchvision's rule for its
    /// `downsample`); both sides must then agree.
    pub(super) fn residual(
        &mut self,
        token: &Ident,
        main: &[Entry],
        shortcut: Option<&(Ident, Target)>,
        scope: &Scope,
    ) -> Vec<Tree> {
        let (input, field) = (self.shape, self.field);
        if main.is_empty() {
            self.cx.error(
                token.span(),
                format!(
                    "`{}residual`: it has no main path, so it would add its input to itself; \
                     write the layers of its main path in the braces",
                    scope.label
                ),
            );
            self.shape = None;
            return Vec::new();
        }
        let main_trees = self.body(main, scope);
        let (main_out, main_field) = (self.shape, self.field);
        let (Some(input), Some(main_out)) = (input, main_out) else {
            if let (true, Some((name, target))) = (self.defining, shortcut) {
                let name = name.unraw().to_string();
                self.target(target, &name, &name, scope);
            }
            self.shape = None;
            return Vec::new();
        };
        let label = format!("{}residual", scope.label);
        let resized = if self.generic {
            resized(&main_trees)
        } else {
            None
        };
        let shortcut_trees = if main_out == input && resized.is_none() {
            None
        } else if let Some((name, target)) = shortcut {
            self.shape = Some(input);
            self.field = field;
            let text = name.unraw().to_string();
            let trees = self.target(target, &text, &text, scope);
            match self.shape {
                Some(short_out) if short_out == main_out => Some(trees),
                Some(short_out) => {
                    let why = cause::parting(input, &main_trees, &trees)
                        .map(|p| format!("; {}", p.text))
                        .unwrap_or_default();
                    self.cx.shape_error(
                        name.span(),
                        format!(
                            "`{label}`: the branches disagree: the main path gives {} but the shortcut `{name}` gives {} (from the input {}){why}",
                            main_out.text(),
                            short_out.text(),
                            input.text()
                        ),
                    );
                    self.shape = None;
                    return Vec::new();
                }
                None => {
                    self.shape = None;
                    return Vec::new();
                }
            }
        } else {
            let example = resized
                .map(|(axis, from, to)| {
                    format!(
                        " (a {} of {from} becomes {to})",
                        stride_geometry::axis_name(axis)
                    )
                })
                .unwrap_or_default();
            // Where the sizes part; when changing one parameter makes them meet (and the
            // channels agree), that is the fix, not a shortcut.
            let why = cause::parting(input, &main_trees, &[]);
            let fixed =
                why.as_ref().is_some_and(|p| p.fixed) && channels(input) == channels(main_out);
            let why = why.map(|p| format!("; {}", p.text)).unwrap_or_default();
            let advice = if fixed {
                ""
            } else {
                "; add `shortcut downsample: [conv2d(..), batch_norm2d()]` after the braces"
            };
            self.cx.shape_error(
                token.span(),
                format!(
                    "`{label}`: the main path turns the input {} into {}{example}, so they cannot \
                     be added{why}{advice}",
                    input.text(),
                    main_out.text()
                ),
            );
            self.shape = None;
            return Vec::new();
        };
        self.shape = Some(main_out);
        self.field = main_field;
        vec![Tree::Residual {
            name: row_name(scope, "residual"),
            main: main_trees,
            shortcut: shortcut_trees,
            output: main_out,
            field: main_field,
        }]
    }

    /// `concat { a: …, { … } }`: every branch from the same input; their outputs must agree in
    /// height and width, and are joined along channels. A branch in braces keeps the scope's
    /// keys. A named concat's `scope` is its own, whose names are checked here; an unnamed
    /// one shares the enclosing scope, whose names were checked with its other entries.
    pub(super) fn concat(
        &mut self,
        token: &Ident,
        branches: &[Branch],
        scope: &Scope,
        own_scope: bool,
    ) -> Vec<Tree> {
        let (input, field) = (self.shape, self.field);
        let label = match scope.label.trim_end_matches('.') {
            "" => "concat".to_string(),
            label => label.to_string(),
        };
        if own_scope {
            let mut names = Vec::new();
            branch_names(branches, &mut names);
            report_duplicates(self.cx, &names, "branch");
        }
        let mut outputs = Vec::new();
        let mut trees = Vec::new();
        let mut fields = Vec::new();
        for branch in branches {
            self.shape = input;
            self.field = field;
            let (branch_trees, name) = match branch {
                Branch::Named(name, target) => {
                    let text = name.unraw().to_string();
                    let trees = self.target(target, &text, &text, scope);
                    (trees, BranchName::named(name))
                }
                Branch::Inline { brace, entries } => (
                    self.body(entries, scope),
                    BranchName::inline(*brace, entries),
                ),
            };
            trees.push(branch_trees);
            outputs.push((name, self.shape));
            fields.push(self.field);
        }
        if branches.is_empty() {
            self.cx.error(
                token.span(),
                format!("`{label}`: a concat needs at least one branch"),
            );
        }
        let mut channels = 0usize;
        let mut spatial: Option<(usize, [usize; 2])> = None;
        for (index, (name, shape)) in outputs.iter().enumerate() {
            match shape {
                None => {
                    self.shape = None;
                    return Vec::new();
                }
                Some(Shape::Flat(_)) => {
                    self.cx.shape_error(
                        name.span,
                        format!(
                            "`{label}`: {} is flat; concat joins feature maps",
                            name.text
                        ),
                    );
                    self.shape = None;
                    return Vec::new();
                }
                Some(Shape::Map([c, h, w])) => {
                    match spatial {
                        Some((first, hw)) if differ(hw, [*h, *w]) => {
                            let why = input
                                .and_then(|input| {
                                    cause::parting(input, &trees[first], &trees[index])
                                })
                                .map(|p| format!("; {}", p.text))
                                .unwrap_or_default();
                            self.cx.shape_error(
                                name.span,
                                format!(
                                    "`{label}`: {} is {h}x{w} but {} is {}x{}; a concat needs equal height and width{why}",
                                    name.text, outputs[first].0.text, hw[0], hw[1]
                                ),
                            );
                            self.shape = None;
                            return Vec::new();
                        }
                        // A size known on one branch and not on another: the size program
                        // checks them for each input size.
                        Some((first, hw)) => spatial = Some((first, meet(hw, [*h, *w]))),
                        None => spatial = Some((index, [*h, *w])),
                    }
                    let Some(sum) = channels.checked_add(*c) else {
                        self.cx.shape_error(
                            token.span(),
                            format!("`{label}`: the joined channels overflow a usize"),
                        );
                        self.shape = None;
                        return Vec::new();
                    };
                    channels = sum;
                }
            }
        }
        let Some((_, [h, w])) = spatial else {
            self.shape = None;
            return Vec::new();
        };
        let output = Shape::Map([channels, h, w]);
        self.shape = Some(output);
        self.field = join_fields(&fields);
        vec![Tree::Concat {
            name: row_name(scope, "concat"),
            branches: trees,
            output,
            field: self.field,
        }]
    }
}

impl Walk<'_> {
    /// `scale { gate }`: the input multiplied by the gate's output, which is one value per
    /// channel (`[C, 1, 1]`, squeeze-excitation's) or one per value (the input's shape). The
    /// gate sees the whole map through its pool; the receptive field is the input's.
    pub(super) fn scale(&mut self, token: &Ident, gate: &[Entry], scope: &Scope) -> Vec<Tree> {
        let (input, field) = (self.shape, self.field);
        let label = row_name(scope, "scale");
        let gate_trees = self.body(gate, scope);
        let (Some(input), Some(gate_out)) = (input, self.shape) else {
            self.shape = None;
            return Vec::new();
        };
        let Shape::Map([c, h, w]) = input else {
            self.cx.shape_error(
                token.span(),
                format!(
                    "`{label}`: its input is flat ({}); a scale multiplies the channels of a \
                     feature map",
                    input.text()
                ),
            );
            self.shape = None;
            return Vec::new();
        };
        let fits = match gate_out {
            Shape::Map([gc, gh, gw]) => {
                gc == c && ((gh == 1 && gw == 1) || !differ([gh, gw], [h, w]))
            }
            Shape::Flat(_) => false,
        };
        if gate.is_empty() || !fits {
            self.cx.shape_error(
                token.span(),
                format!(
                    "`{label}`: the gate gives {} for the input {}; a scale multiplies each \
                     channel of its input by the gate's value for it, so the gate must end with \
                     [{c}, 1, 1] (or the input's shape)",
                    if gate.is_empty() {
                        "nothing".to_string()
                    } else {
                        gate_out.text()
                    },
                    input.text()
                ),
            );
            self.shape = None;
            return Vec::new();
        }
        self.shape = Some(input);
        self.field = field;
        vec![Tree::Scale {
            name: label,
            gate: gate_trees,
            output: input,
            field,
        }]
    }
}

/// The channels of a feature map.
fn channels(shape: Shape) -> Option<usize> {
    match shape {
        Shape::Map([c, _, _]) => Some(c),
        Shape::Flat(_) => None,
    }
}

/// Whether two spatial sizes differ on an axis where both are known.
fn differ(a: [usize; 2], b: [usize; 2]) -> bool {
    (0..2).any(|i| a[i] != ANY && b[i] != ANY && a[i] != b[i])
}

/// The size two branches meet at: known where both are.
fn meet(a: [usize; 2], b: [usize; 2]) -> [usize; 2] {
    [0, 1].map(|i| if a[i] == b[i] { a[i] } else { ANY })
}

/// Whether a path changes the size of an axis, whatever its channels do: its size program run
/// on a few sizes (an odd one among them). When it does, the first change found: the axis,
/// the size, and what it became. A residual needs its shortcut then, at every input size, even
/// a size its path would happen to keep.
fn resized(path: &[Tree]) -> Option<(usize, usize, usize)> {
    let flows = plan::flows_of(path);
    (0..2).find_map(|axis| {
        [64, 65, 97].into_iter().find_map(|size| {
            match stride_geometry::run_flow(&flows[axis], size, &mut []) {
                Ok(to) if to != size => Some((axis, size, to)),
                _ => None,
            }
        })
    })
}

/// The field after joining branches with these fields: the widest, if every branch has one
/// and they step alike.
fn join_fields(fields: &[Option<[Field; 2]>]) -> Option<[Field; 2]> {
    let (first, rest) = fields.split_first()?;
    let mut joined = (*first)?;
    for field in rest {
        let field = (*field)?;
        joined = [joined[0].join(field[0])?, joined[1].join(field[1])?];
    }
    Some(joined)
}

/// A residual's or concat's summary row name: its scope's key, or `what` at the top level.
fn row_name(scope: &Scope, what: &str) -> String {
    match scope.key.trim_end_matches('.') {
        "" => what.to_string(),
        key => key.to_string(),
    }
}

/// How messages name a branch, and where they point.
struct BranchName {
    text: String,
    span: Span,
}

impl BranchName {
    fn named(name: &Ident) -> Self {
        BranchName {
            text: format!("branch `{name}`"),
            span: name.span(),
        }
    }

    fn inline(brace: Span, entries: &[Entry]) -> Self {
        let first = match entries.first() {
            Some(Entry::Named { name, .. }) => format!(" starting with `{name}`"),
            _ => String::new(),
        };
        BranchName {
            text: format!("the branch in braces{first}"),
            span: brace,
        }
    }
}
