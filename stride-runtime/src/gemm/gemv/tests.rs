use ndarray::{Array1, Array2};

use super::*;
use crate::testing::sample;

/// `yᵀ` in `f64`, the reference both paths are held to.
fn reference(w: &[f32], k: usize, x: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    let (out, batch) = (w.len() / k, x.len() / k);
    let mut yt = vec![0.0; out * batch];
    for o in 0..out {
        for n in 0..batch {
            let dot: f64 = (0..k)
                .map(|i| f64::from(w[o * k + i]) * f64::from(x[n * k + i]))
                .sum();
            yt[o * batch + n] = dot + bias.map_or(0.0, |b| f64::from(b[o]));
        }
    }
    yt
}

fn run(isa: Isa, w: &Array2<f32>, x: &Array2<f32>, bias: Option<&Array1<f32>>) -> Vec<f32> {
    let mut yt = vec![f32::NAN; w.nrows() * x.nrows()];
    gemv(
        isa,
        w.as_slice().unwrap(),
        w.ncols(),
        x.as_slice().unwrap(),
        bias.map(|b| b.as_slice().unwrap()),
        Activation::Identity,
        &mut yt,
    );
    yt
}

#[test]
fn every_batch_row_count_and_tail_matches_f64_and_the_paths_agree_bit_for_bit() {
    let mut cases = 0;
    for out in [1, 3, 4, 5, 17, 130] {
        for k in [1, 7, 8, 9, 64, 203] {
            for batch in 1..=MAX_BATCH {
                for with_bias in [false, true] {
                    let seed = (out * 1000 + k * 10 + batch) as u64;
                    let w = sample((out, k), seed);
                    let x = sample((batch, k), seed + 1);
                    let bias = with_bias.then(|| sample(out, seed + 2));
                    let want = reference(
                        w.as_slice().unwrap(),
                        k,
                        x.as_slice().unwrap(),
                        bias.as_ref().map(|b| b.as_slice().unwrap()),
                    );
                    let scalar = run(Isa::Scalar, &w, &x, bias.as_ref());
                    for (i, (&got, &want)) in scalar.iter().zip(&want).enumerate() {
                        let tolerance = 1e-6 * (k as f64).sqrt() * (1.0 + want.abs());
                        assert!(
                            (f64::from(got) - want).abs() <= tolerance,
                            "out {out} k {k} batch {batch}: at {i}: {got} vs {want}"
                        );
                    }
                    if let Some(isa) = Isa::avx2() {
                        let simd = run(isa, &w, &x, bias.as_ref());
                        let same = simd
                            .iter()
                            .zip(&scalar)
                            .all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(
                            same,
                            "out {out} k {k} batch {batch}: {simd:?} vs {scalar:?}"
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 6 * 6 * MAX_BATCH * 2);
}

#[test]
fn a_split_over_threads_gives_the_bits_of_one_thread() {
    // Large enough to split: 1000 x 1280 weights, ImageNet's classifier behind MobileNetV2.
    let (out, k) = (1000, 1280);
    assert!(out * k >= PARALLEL_WEIGHTS);
    let w = sample((out, k), 5);
    let x = sample((3, k), 6);
    let bias = sample(out, 7);
    let isa = Isa::detect();
    let split = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| run(isa, &w, &x, Some(&bias)));
    let serial = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(isa, &w, &x, Some(&bias)));
    assert!(
        split
            .iter()
            .zip(&serial)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert!(split.iter().all(|v| v.is_finite()));
}

#[test]
fn the_activation_is_applied_to_each_output_after_the_bias() {
    let w = sample((9, 21), 1);
    let x = sample((2, 21), 2);
    let bias = sample(9, 3);
    let isa = Isa::detect();
    let plain = run(isa, &w, &x, Some(&bias));
    for activation in [Activation::Relu, Activation::Silu, Activation::Hardsigmoid] {
        let mut yt = vec![f32::NAN; 18];
        gemv(
            isa,
            w.as_slice().unwrap(),
            21,
            x.as_slice().unwrap(),
            Some(bias.as_slice().unwrap()),
            activation,
            &mut yt,
        );
        for (got, &plain) in yt.iter().zip(&plain) {
            assert_eq!(
                got.to_bits(),
                activation.apply(plain).to_bits(),
                "{activation:?}"
            );
        }
    }
}
