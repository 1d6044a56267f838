//! Which input sizes a network takes on an axis its declaration names (`[3, H, W]`): its size
//! program run on every size up to a bound.

use stride_geometry::{FlowError, FlowOp, run_flow};

use super::plan::Built;
use crate::model::Sizes;

/// The largest size tried first; enough to see the smallest size and the step of every
/// network whose strides multiply to 256 or less.
const FIRST: usize = 1024;

/// The largest size tried at all.
const LIMIT: usize = 4096;

/// The sizes up to [`LIMIT`] that `flow` takes: the smallest, and the step after which they
/// repeat; or the refusal of the largest size tried, when it takes none.
pub fn accepted(flow: &[FlowOp], name: &str) -> Result<Sizes, (usize, FlowError)> {
    let mut limit = FIRST;
    loop {
        let taken: Vec<bool> = (0..=limit)
            .map(|s| s > 0 && run_flow(flow, s, &mut []).is_ok())
            .collect();
        match describe(&taken) {
            Some((min, step, regular)) if regular || limit == LIMIT => {
                return Ok(Sizes {
                    name: Some(name.to_string()),
                    min,
                    step,
                    regular,
                });
            }
            None if limit == LIMIT => {
                let error = run_flow(flow, LIMIT, &mut []).expect_err("no size is taken");
                return Err((LIMIT, error));
            }
            _ => limit = LIMIT,
        }
    }
}

/// The smallest size taken, the step between sizes taken, and whether exactly the sizes
/// `min + k * step` are taken.
fn describe(taken: &[bool]) -> Option<(usize, usize, bool)> {
    let min = taken.iter().position(|&t| t)?;
    let gcd = |a: usize, b: usize| {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let step = (min + 1..taken.len())
        .filter(|&s| taken[s])
        .fold(0, |g, s| gcd(g, s - min));
    if step == 0 {
        // Only `min` itself: nothing after it repeats.
        return Some((min, 1, taken.len() == min + 1));
    }
    let regular = (min..taken.len()).all(|s| taken[s] == ((s - min) % step == 0));
    if regular {
        return Some((min, step, true));
    }
    // Sizes that follow no single step: the smallest period they repeat with.
    let period = (1..=(taken.len() - min) / 4)
        .find(|&p| (min..taken.len() - p).all(|s| taken[s] == taken[s + p]))
        .unwrap_or(1);
    Some((min, period, false))
}

/// The message for an axis that takes no size: the refusal at the largest size tried.
pub fn none_taken(
    network: &str,
    axis: usize,
    size: usize,
    error: &FlowError,
    built: &Built,
) -> String {
    let (rows, flow) = (&built.rows, &built.flows[axis]);
    let row = error
        .row()
        .and_then(|r| rows.get(r))
        .map_or_else(String::new, |r| format!("`{}`: ", r.name));
    let rounding = error
        .rounding()
        .and_then(|r| {
            Some(format!(
                ", as `{}` {}",
                rows.get(r.row)?.name,
                r.explain(flow, axis)
            ))
        })
        .unwrap_or_default();
    format!(
        "`{network}` takes no input {} from 1 to {size}: at {size}, {row}{}{rounding}",
        stride_geometry::axis_name(axis),
        error.explain(axis)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(sizes: &[usize], len: usize) -> Vec<bool> {
        (0..len).map(|s| sizes.contains(&s)).collect()
    }

    #[test]
    fn multiples_of_sixteen_are_a_step_of_sixteen_from_sixteen() {
        let multiples: Vec<usize> = (1..64).map(|k| 16 * k).collect();
        assert_eq!(describe(&taken(&multiples, 1024)), Some((16, 16, true)));
    }

    #[test]
    fn every_size_from_seven_is_a_step_of_one() {
        let sizes: Vec<usize> = (7..100).collect();
        assert_eq!(describe(&taken(&sizes, 100)), Some((7, 1, true)));
    }

    #[test]
    fn two_residues_of_four_repeat_every_four_but_are_not_regular() {
        let sizes: Vec<usize> = (8..400).filter(|s| s % 4 < 2).collect();
        assert_eq!(describe(&taken(&sizes, 400)), Some((8, 4, false)));
    }

    #[test]
    fn no_size_is_none() {
        assert_eq!(describe(&[false; 10]), None);
    }
}
