//! From a network's output to ranked classes.

use std::cmp::Ordering;

use ndarray::{Array1, ArrayView1};

/// The softmax of one image's logits, `exp(x - max) / sum(exp(x - max))`: the maximum is
/// subtracted first, so large logits do not overflow.
///
/// As `torch.softmax`, a NaN logit makes every probability NaN, and so does a `+inf` (or a row
/// of only `-inf`), since `inf - inf` is NaN; [`top_k`] ranks NaN last.
///
/// ```
/// use stride_vision::softmax;
/// use ndarray::array;
///
/// let p = softmax(array![1000.0, 1000.0, f32::NEG_INFINITY].view());
/// assert_eq!(p.to_vec(), [0.5, 0.5, 0.0]);
/// let logits = array![[2.0f32, 1.0, 0.5]]; // a network's output, [N, classes]
/// let p = softmax(logits.row(0));
/// assert!((p.sum() - 1.0).abs() < 1e-6);
/// ```
pub fn softmax(logits: ArrayView1<'_, f32>) -> Array1<f32> {
    // `f32::max` would skip a NaN; this keeps it, so that it reaches every output.
    let max = logits.iter().fold(f32::NEG_INFINITY, |max, &x| {
        if max.is_nan() || x.is_nan() {
            f32::NAN
        } else {
            max.max(x)
        }
    });
    let exp = logits.mapv(|x| (x - max).exp());
    let sum: f32 = exp.sum();
    exp.mapv(|e| e / sum)
}

/// The `k` largest scores with their indices, largest first; fewer if there are fewer scores.
/// Equal scores keep their order (the lower index first); NaN ranks below every number.
///
/// ```
/// use stride_vision::top_k;
/// use ndarray::array;
///
/// let top = top_k(array![0.1, 0.5, f32::NAN, 0.2, 0.5].view(), 3);
/// assert_eq!(top, [(1, 0.5), (4, 0.5), (3, 0.2)]);
/// ```
pub fn top_k(scores: ArrayView1<'_, f32>, k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = scores.iter().copied().enumerate().collect();
    // A stable sort: ties stay in index order.
    ranked.sort_by(|(_, a), (_, b)| match (a.is_nan(), b.is_nan()) {
        (false, false) => b.partial_cmp(a).unwrap_or(Ordering::Equal),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    });
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn softmax_of_large_logits_does_not_overflow() {
        let p = softmax(array![1e30f32, 1e30 - 1e24, 0.0].view());
        assert!(p.iter().all(|v| v.is_finite()), "{p}");
        assert!((p.sum() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn softmax_matches_the_definition() {
        let x = array![0.3f32, -1.2, 2.5, 0.0];
        let e: Vec<f64> = x.iter().map(|&v| f64::from(v).exp()).collect();
        let total: f64 = e.iter().sum();
        for (p, e) in softmax(x.view()).iter().zip(&e) {
            assert!((f64::from(*p) - e / total).abs() < 1e-7);
        }
    }

    #[test]
    fn a_nan_or_infinite_logit_makes_the_row_nan_as_torch_does() {
        for x in [
            array![1.0f32, f32::NAN, 2.0],
            array![f32::NAN, 1.0, 2.0],
            array![1.0f32, f32::INFINITY],
            array![f32::NEG_INFINITY, f32::NEG_INFINITY],
        ] {
            assert!(softmax(x.view()).iter().all(|p| p.is_nan()), "{x}");
        }
        assert_eq!(softmax(ndarray::Array1::<f32>::zeros(0).view()).len(), 0);
    }

    #[test]
    fn top_k_ranks_nan_last_and_keeps_ties_in_index_order() {
        let scores = array![f32::NAN, 0.25, 0.5, 0.25, f32::NAN, 0.0];
        let top = top_k(scores.view(), 10);
        let indices: Vec<usize> = top.iter().map(|&(i, _)| i).collect();
        assert_eq!(indices, [2, 1, 3, 5, 0, 4]);
        assert_eq!(top_k(scores.view(), 2), [(2, 0.5), (1, 0.25)]);
        assert!(top_k(scores.view(), 0).is_empty());
    }
}
