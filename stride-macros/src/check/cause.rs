//! Why two paths that must meet give different sizes: the layer where they part, with its
//! arithmetic in the user's numbers, and the change of one of its parameters that makes them
//! meet, when there is one. The sizes come from the paths' size programs, run again with the
//! changed parameter: the rules themselves are `stride-geometry`'s.

use stride_geometry::{AxisRule, FlowOp, Padding, Tweak, axis_name, run_flow};

use super::plan::{self, Built};
use crate::model::{ANY, Shape, Tree};

/// The words that follow a mismatch between `reference` and `other`, two paths from an input
/// of `[h, w]` (an empty path is the input itself): the first layer whose size is not its
/// input's divided (or, transposed, multiplied) by its stride, and a change of one parameter
/// that makes the paths give equal sizes, tried in the path that differs first. `None` when no
/// layer parts them that way.
pub fn parting(input: Shape, reference: &[Tree], other: &[Tree]) -> Option<Parting> {
    let Shape::Map([_, h, w]) = input else {
        return None;
    };
    let input = [h, w];
    if input.contains(&ANY) {
        return None;
    }
    let paths = [Path::run(other, input)?, Path::run(reference, input)?];
    let differ: Vec<usize> = (0..2)
        .filter(|&a| paths[0].out[a] != paths[1].out[a])
        .collect();
    let axis = *differ.first()?;
    // Each path's inexact layers, in the order of its size program: the path that differs
    // first, then the reference.
    let candidates: Vec<(usize, usize, usize)> = (0..2)
        .flat_map(|p| {
            let path = &paths[p];
            path.layout.flows[axis]
                .iter()
                .enumerate()
                .filter_map(move |(step, op)| match *op {
                    FlowOp::Layer { row, rule } if !rule.is_exact(path.record[axis][row][0]) => {
                        Some((p, step, row))
                    }
                    _ => None,
                })
        })
        .collect();
    let &(p, step, row) = candidates.first()?;
    let path = &paths[p];
    let FlowOp::Layer { rule, .. } = path.layout.flows[axis][step] else {
        return None;
    };
    let size = path.record[axis][row][0];
    let both = differ.len() == 2 && input[0] == input[1] && path.rule(1, step) == Some(rule);
    let mut text = format!(
        "they part at `{}`, whose {} {} {}",
        path.layout.rows[row].name,
        if both {
            "height and width".to_string()
        } else {
            axis_name(axis).to_string()
        },
        if both { "are" } else { "is" },
        rule.arithmetic(size).as_str()
    );
    let fix = candidates.iter().find_map(|&(q, step, row)| {
        let want = paths[1 - q].out;
        let (change, [h, w]) = paths[q].fix(step, &differ, input, want)?;
        Some((q, row, change, h, w))
    });
    let fixed = fix.is_some();
    if let Some((q, fix_row, change, h, w)) = fix {
        let at = if (q, fix_row) == (p, row) {
            "there".to_string()
        } else {
            format!("on `{}`", paths[q].layout.rows[fix_row].name)
        };
        text.push_str(&format!("; `{change}` {at} would give {h}x{w}"));
    }
    Some(Parting { text, fixed })
}

/// Where two paths part, in words.
pub struct Parting {
    pub text: String,
    /// Whether the words give a change that makes the paths meet.
    pub fixed: bool,
}

/// A path laid out alone, run on the input: its output, and each row's sizes on each axis.
struct Path {
    layout: Built,
    out: [usize; 2],
    record: [Vec<[usize; 2]>; 2],
}

impl Path {
    fn run(trees: &[Tree], input: [usize; 2]) -> Option<Path> {
        let layout = plan::layout_of(trees);
        let mut record = [
            vec![[0; 2]; layout.rows.len()],
            vec![[0; 2]; layout.rows.len()],
        ];
        let mut out = [0; 2];
        for axis in 0..2 {
            out[axis] = run_flow(&layout.flows[axis], input[axis], &mut record[axis]).ok()?;
        }
        Some(Path {
            layout,
            out,
            record,
        })
    }

    /// The rule of step `step` on `axis`.
    fn rule(&self, axis: usize, step: usize) -> Option<AxisRule> {
        match self.layout.flows[axis].get(step)? {
            FlowOp::Layer { rule, .. } => Some(*rule),
            _ => None,
        }
    }

    /// The first change of the layer at `step` that makes this path give `want` on both axes,
    /// as the user would write it, and the size it gives. A padding or output padding changes
    /// on both axes where they hold one value, else on the axes in `differ` only.
    fn fix(
        &self,
        step: usize,
        differ: &[usize],
        input: [usize; 2],
        want: [usize; 2],
    ) -> Option<(String, [usize; 2])> {
        let rules = [self.rule(0, step)?, self.rule(1, step)?];
        let first = rules[differ[0]];
        for tweak in tweaks(first) {
            let mut axes_sets: Vec<Vec<usize>> = Vec::new();
            if matches!(tweak, Tweak::CeilMode(_)) || rules[0] == rules[1] {
                axes_sets.push(vec![0, 1]);
            }
            if !matches!(tweak, Tweak::CeilMode(_)) && differ.len() == 1 {
                axes_sets.push(differ.to_vec());
            }
            for axes in axes_sets {
                let Some(tweaked) = self.tweaked(step, &rules, &axes, tweak) else {
                    continue;
                };
                let meets = (0..2).all(|a| {
                    run_flow(&tweaked[a], input[a], &mut []).is_ok_and(|size| size == want[a])
                });
                if meets {
                    let words = words(tweak, &rules, &axes)?;
                    return Some((words, want));
                }
            }
        }
        None
    }

    /// This path's size programs with the layer at `step` changed on `axes`.
    fn tweaked(
        &self,
        step: usize,
        rules: &[AxisRule; 2],
        axes: &[usize],
        tweak: Tweak,
    ) -> Option<[Vec<FlowOp>; 2]> {
        let mut flows = self.layout.flows.clone();
        for &axis in axes {
            let FlowOp::Layer { row, .. } = flows[axis][step] else {
                return None;
            };
            let rule = rules[axis].tweaked(tweak)?;
            flows[axis][step] = FlowOp::Layer { row, rule };
        }
        Some(flows)
    }
}

/// How far from its value a padding or output padding is tried: a few pixels of difference
/// are what a rounding makes, and a kernel may be 2^32 wide.
const REACH: usize = 8;

/// The changes worth trying on a layer with this rule, nearest to what it has first:
/// `ceil_mode`, then the output padding, then the padding. Which values the layer may take is
/// the geometry's to say: a value it refuses fails when `fix` runs the size programs.
fn tweaks(rule: AxisRule) -> Vec<Tweak> {
    let near = |now: usize| {
        let mut values: Vec<usize> = (now.saturating_sub(REACH)..=now.saturating_add(REACH))
            .filter(|&v| v != now)
            .collect();
        values.sort_by_key(|&v| v.abs_diff(now));
        values
    };
    let padding = |padding: Padding| match padding {
        Padding::Explicit { begin, .. } => near(begin).into_iter().map(Tweak::Padding).collect(),
        _ => Vec::new(),
    };
    match rule {
        AxisRule::Pool {
            padding: pad,
            ceil_mode,
            ..
        } => {
            let mut all = vec![Tweak::CeilMode(!ceil_mode)];
            all.extend(padding(pad));
            all
        }
        AxisRule::Conv { padding: pad, .. } => padding(pad),
        AxisRule::Transposed(axis) => {
            let mut all: Vec<Tweak> = near(axis.output_padding)
                .into_iter()
                .map(Tweak::OutputPadding)
                .collect();
            all.extend(near(axis.padding).into_iter().map(Tweak::Padding));
            all
        }
        _ => Vec::new(),
    }
}

/// A change as the user writes it: `ceil_mode = true`, `padding = 1`, `padding = (1, 0)`.
fn words(tweak: Tweak, rules: &[AxisRule; 2], axes: &[usize]) -> Option<String> {
    let (name, value) = match tweak {
        Tweak::CeilMode(on) => return Some(format!("ceil_mode = {on}")),
        Tweak::Padding(p) => ("padding", p),
        Tweak::OutputPadding(p) => ("output_padding", p),
    };
    if axes.len() == 2 {
        return Some(format!("{name} = {value}"));
    }
    let now = |rule: AxisRule| match (rule, tweak) {
        (AxisRule::Transposed(a), Tweak::OutputPadding(_)) => Some(a.output_padding),
        (AxisRule::Transposed(a), Tweak::Padding(_)) => Some(a.padding),
        (
            AxisRule::Conv {
                padding: Padding::Explicit { begin, end },
                ..
            }
            | AxisRule::Pool {
                padding: Padding::Explicit { begin, end },
                ..
            },
            Tweak::Padding(_),
        ) if begin == end => Some(begin),
        _ => None,
    };
    let mut pair = [now(rules[0])?, now(rules[1])?];
    for &axis in axes {
        pair[axis] = value;
    }
    Some(match pair {
        [h, w] if h == w => format!("{name} = {h}"),
        [h, w] => format!("{name} = ({h}, {w})"),
    })
}

#[cfg(test)]
mod tests {
    use crate::check::check;

    /// The one error of `source`, a network.
    fn error(source: &str) -> String {
        let checked = check(syn::parse_str(source).unwrap());
        let errors: Vec<String> = checked
            .errors
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors[0].clone()
    }

    fn assert_ends_with(error: &str, words: &str) {
        assert!(error.ends_with(words), "{error}");
    }

    #[test]
    fn the_first_layer_that_parts_is_named_and_the_fix_is_where_one_exists() {
        // `b`'s first pool floors 143 to 71 and nothing on it makes 36; padding its second pool
        // does.
        let error = error(
            "struct N: [4, 143, 143] {
                concat {
                    a: conv2d(4, kernel = 3, stride = 4, padding = 1),
                    b: [max_pool2d(2), max_pool2d(kernel = 3, stride = 2)],
                },
            }",
        );
        assert_eq!(
            error,
            "`concat`: branch `b` is 35x35 but branch `a` is 36x36; a concat needs equal height \
             and width; they part at `b.0`, whose height and width are (143 + 2*0 - 1*(2-1) - 1) \
             / 2 + 1 = 71; `padding = 1` on `b.1` would give 36x36"
        );
    }

    #[test]
    fn a_shortcut_that_floors_gets_ceil_mode() {
        let error = error(
            "struct N: [4, 57, 57] {
                residual {
                    conv: conv2d(4, kernel = 3, stride = 2, padding = 1),
                } shortcut down: max_pool2d(2),
            }",
        );
        assert_ends_with(
            &error,
            "they part at `down`, whose height and width are (57 + 2*0 - 1*(2-1) - 1) / 2 + 1 = \
             28; `ceil_mode = true` there would give 29x29",
        );
    }

    #[test]
    fn one_axis_apart_gets_the_padding_of_that_axis() {
        let error = error(
            "struct N: [4, 28, 30] {
                concat {
                    a: identity,
                    b: conv2d(4, kernel = (3, 5), padding = (1, 0)),
                },
            }",
        );
        assert_ends_with(
            &error,
            "they part at `b`, whose width is (30 + 2*0 - 1*(5-1) - 1) / 1 + 1 = 26; `padding \
             = (1, 2)` there would give 28x30",
        );
    }

    #[test]
    fn paths_that_part_on_no_inexact_layer_get_no_words() {
        // Both strides divide 28: the paths differ by design, not by a rounding.
        let error = error(
            "struct N: [4, 28, 28] {
                concat {
                    a: identity,
                    b: conv2d(4, kernel = 3, stride = 2, padding = 1),
                },
            }",
        );
        assert!(!error.contains("part at"), "{error}");
    }
}
