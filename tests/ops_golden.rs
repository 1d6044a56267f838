//! Every case of PyTorch's `ops.json` through the runtime, within the golden tolerance
//! `|got - want| <= 1e-4 + 1e-4 * |want|`; and the same for `tiles/ops_tiles.json`, whose
//! pools' outputs hold NaN and infinities (compared as the `nan/` vectors are).

use ndarray::ArrayD;
use safetensors::SafeTensors;
use serde_json::Value;

mod support;

use support::{golden, worst_difference, worst_nonfinite_difference};

/// One case: its params and its tensors by short name (`x`, `w`, `y`, …).
struct Case<'a> {
    name: &'a str,
    op: &'a str,
    params: &'a Value,
    tensors: &'a SafeTensors<'a>,
}

impl Case<'_> {
    fn tensor(&self, short: &str) -> ArrayD<f32> {
        support::tensor(self.tensors, &format!("{}.{short}", self.name))
    }

    fn t4(&self, short: &str) -> ndarray::Array4<f32> {
        self.tensor(short).into_dimensionality().unwrap()
    }

    fn t1(&self, short: &str) -> ndarray::Array1<f32> {
        self.tensor(short).into_dimensionality().unwrap()
    }

    fn has(&self, short: &str) -> bool {
        self.tensors
            .tensor(&format!("{}.{short}", self.name))
            .is_ok()
    }

    fn pair(&self, key: &str) -> [usize; 2] {
        let v = &self.params[key];
        [
            v[0].as_u64().unwrap() as usize,
            v[1].as_u64().unwrap() as usize,
        ]
    }

    fn flag(&self, key: &str) -> bool {
        self.params[key].as_bool().unwrap()
    }
}

/// The case's bias tensor, present exactly when its `bias` param says so.
fn bias(case: &Case) -> Option<ndarray::Array1<f32>> {
    assert_eq!(
        case.has("b"),
        case.flag("bias"),
        "{}: bias param",
        case.name
    );
    case.has("b").then(|| case.t1("b"))
}

/// Runs one case; `None` for an op this runtime does not have.
fn run(case: &Case) -> Option<Result<ArrayD<f32>, stride::runtime::Error>> {
    use stride::runtime::ops::*;
    let x = || case.t4("x");
    let out = match case.op {
        "conv2d" => {
            let params = Conv2dParams::default()
                .stride(case.pair("stride"))
                .padding(case.pair("padding"))
                .dilation(case.pair("dilation"))
                .groups(case.params["groups"].as_u64().unwrap() as usize);
            let b = bias(case);
            let w = case.t4("w");
            conv2d(x().view(), w.view(), b.as_ref().map(|b| b.view()), &params)
                .map(|y| y.into_dyn())
        }
        "conv_transpose2d" => {
            let params = ConvTranspose2dParams::default()
                .stride(case.pair("stride"))
                .padding(case.pair("padding"))
                .output_padding(case.pair("output_padding"))
                .dilation(case.pair("dilation"))
                .groups(case.params["groups"].as_u64().unwrap() as usize);
            let b = bias(case);
            let w = case.t4("w");
            conv_transpose2d(x().view(), w.view(), b.as_ref().map(|b| b.view()), &params)
                .map(|y| y.into_dyn())
        }
        "relu" => relu(x().view()).map(|y| y.into_dyn()),
        "batch_norm2d" => batch_norm2d(
            x().view(),
            case.t1("running_mean").view(),
            case.t1("running_var").view(),
            Some(case.t1("weight").view()),
            Some(case.t1("bias").view()),
            case.params["eps"].as_f64().unwrap() as f32,
        )
        .map(|y| y.into_dyn()),
        "linear" => {
            let x = case.tensor("x").into_dimensionality().unwrap();
            let w = case.tensor("w").into_dimensionality().unwrap();
            linear(x.view(), w.view(), Some(case.t1("b").view())).map(|y| y.into_dyn())
        }
        "max_pool2d" => max_pool2d(
            x().view(),
            &MaxPool2dParams::new(case.pair("kernel"))
                .stride(case.pair("stride"))
                .padding(case.pair("padding"))
                .dilation(case.pair("dilation"))
                .ceil_mode(case.flag("ceil_mode")),
        )
        .map(|y| y.into_dyn()),
        "avg_pool2d" => avg_pool2d(
            x().view(),
            &AvgPool2dParams::new(case.pair("kernel"))
                .stride(case.pair("stride"))
                .padding(case.pair("padding"))
                .ceil_mode(case.flag("ceil_mode"))
                .count_include_pad(case.flag("count_include_pad")),
        )
        .map(|y| y.into_dyn()),
        "adaptive_avg_pool2d" => {
            adaptive_avg_pool2d(x().view(), case.pair("output_size")).map(|y| y.into_dyn())
        }
        // align_corners = true is not supported: such a case is reported as having no op.
        "upsample" if !case.flag("align_corners") => {
            let scale = case.params["scale_factor"].as_u64().unwrap() as usize;
            let params = match case.params["mode"].as_str().unwrap() {
                "nearest" => UpsampleParams::scale(scale),
                "bilinear" => UpsampleParams::scale(scale).bilinear(),
                _ => return None,
            };
            upsample(x().view(), &params).map(|y| y.into_dyn())
        }
        _ => return None,
    };
    Some(out)
}

#[test]
fn every_pytorch_op_case_matches_within_tolerance() {
    let ran = check_cases("ops.json", "ops.safetensors", worst_difference);
    assert_eq!(ran, 281);
}

/// The layers only some kernels take (`tiles/generate.py`): transposed convolutions whose
/// kernel tiles the output, and stride-1 max pools on narrow planes with NaN and infinities.
#[test]
fn tiling_transposed_and_narrow_pool_cases_match_within_tolerance() {
    let ran = check_cases(
        "tiles/ops_tiles.json",
        "tiles/ops_tiles.safetensors",
        worst_nonfinite_difference,
    );
    assert_eq!(ran, 12);
}

/// Runs every case of the golden file `json` with its tensors in `tensors`, compares each
/// output with `compare`, and returns how many ran; fails naming every case that differs, was
/// refused or has no op here.
fn check_cases(
    json: &str,
    tensors: &str,
    compare: fn(&ArrayD<f32>, &ArrayD<f32>) -> Option<String>,
) -> usize {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(golden(json)).unwrap()).unwrap();
    let bytes = std::fs::read(golden(tensors)).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let cases = json["cases"].as_array().unwrap();

    let mut failures = Vec::new();
    let mut not_run = Vec::new();
    let mut ran = 0;
    for raw in cases {
        let case = Case {
            name: raw["name"].as_str().unwrap(),
            op: raw["op"].as_str().unwrap(),
            params: &raw["params"],
            tensors: &tensors,
        };
        match run(&case) {
            None => not_run.push(case.name),
            Some(Err(e)) => failures.push(format!("{}: refused: {e}", case.name)),
            Some(Ok(got)) => {
                ran += 1;
                if let Some(diff) = compare(&got, &case.tensor("y")) {
                    failures.push(format!("{} ({}): {diff}", case.name, raw["params"]));
                }
            }
        }
    }
    println!(
        "ops: ran {ran} of {} PyTorch cases; {} within tolerance",
        cases.len(),
        ran - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        not_run.is_empty(),
        "{} cases have no op: {}",
        not_run.len(),
        not_run.join(", ")
    );
    ran
}
