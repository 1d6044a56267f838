//! Loading and saving safetensors files: every kind of problem a checkpoint can have, reported
//! together, and a round trip through a file on disk.

use std::borrow::Cow;
use std::path::PathBuf;

use ndarray::{Array1, Array2, Array4, Ix1, Ix2, Ix4};
use safetensors::Dtype;
use safetensors::tensor::View;
use stride_runtime::weights::{
    LoadError, LoadOptions, Loader, SaveError, Saver, WeightProblem, Weights,
};

const STEM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/golden/resnet18_stem.safetensors"
);

/// A path in the temp dir that no other test (or test run) uses; removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> Self {
        let unique = format!(
            "stride-weights-{}-{name}-{:?}.safetensors",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        TempPath(std::env::temp_dir().join(unique))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A tensor of any dtype, for writing files that stride itself would not write.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn raw(dtype: Dtype, shape: &[usize]) -> Raw {
    let count: usize = shape.iter().product();
    let bytes = vec![0u8; count * dtype.bitsize() / 8];
    Raw {
        dtype,
        shape: shape.to_vec(),
        bytes,
    }
}

fn f32s(shape: &[usize]) -> Raw {
    let count: usize = shape.iter().product();
    let bytes = (0..count).flat_map(|i| (i as f32).to_le_bytes()).collect();
    Raw {
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes,
    }
}

fn file(tensors: &[(&str, &Raw)]) -> Weights {
    let bytes = safetensors::serialize(tensors.iter().map(|&(k, v)| (k, v)), None).unwrap();
    Weights::from_bytes(bytes).unwrap()
}

fn problems(result: Result<(), LoadError>) -> Vec<WeightProblem> {
    match result {
        Err(LoadError::Problems { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn lenient() -> LoadOptions {
    LoadOptions {
        strict: false,
        ..LoadOptions::default()
    }
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn saved_arrays_read_back_identical_through_a_file() -> TestResult {
    let conv = Array4::from_shape_fn((4, 3, 2, 2), |(o, i, h, w)| {
        (o * 100 + i * 10 + h * 2 + w) as f32
    });
    // A transposed view: saved in C order of its logical shape.
    let fc = Array2::from_shape_fn((5, 3), |(r, c)| r as f32 - c as f32 * 0.5);
    let fc_t = fc.t();
    let bias = Array1::from(vec![f32::MIN_POSITIVE, -0.0, f32::MAX, 1e-7]);

    let mut saver = Saver::new();
    saver
        .add("conv1.weight", &conv)?
        .add("fc.weight", fc_t)?
        .add("conv1.bias", bias.view())?;
    saver.metadata("format", "pt");
    let path = TempPath::new("round-trip");
    saver.write(&path.0)?;

    let weights = Weights::open(&path.0)?;
    assert_eq!(
        weights.keys().collect::<Vec<_>>(),
        ["conv1.bias", "conv1.weight", "fc.weight"]
    );
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert_eq!(
        loader.tensor::<Ix4>("conv1.weight", &[4, 3, 2, 2]),
        Some(conv)
    );
    assert_eq!(
        loader.tensor::<Ix2>("fc.weight", &[3, 5]),
        Some(fc_t.to_owned())
    );
    let read_bias = loader.tensor::<Ix1>("conv1.bias", &[4]).unwrap();
    assert_eq!(
        read_bias.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        bias.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    loader.finish()?;
    Ok(())
}

#[test]
fn a_missing_key_is_reported_with_the_shape_that_was_expected() {
    let weights = file(&[("conv1.weight", &f32s(&[8, 3, 3, 3]))]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert!(
        loader
            .tensor::<Ix4>("conv1.weight", &[8, 3, 3, 3])
            .is_some()
    );
    assert!(loader.tensor::<Ix1>("bn1.running_var", &[8]).is_none());
    let err = loader.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        "<in-memory weights>: 1 problem\n  \
         missing `bn1.running_var`, expected an F32 tensor of shape [8]"
    );
}

#[test]
fn a_tensor_of_another_shape_is_refused_with_both_shapes() {
    let weights = file(&[("conv1.weight", &f32s(&[64, 3, 3, 3]))]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert_eq!(loader.tensor::<Ix4>("conv1.weight", &[64, 3, 7, 7]), None);
    assert_eq!(
        problems(loader.finish()),
        [WeightProblem::WrongShape {
            key: "conv1.weight".into(),
            expected: vec![64, 3, 7, 7],
            got: vec![64, 3, 3, 3],
        }]
    );
}

#[test]
fn a_tensor_of_the_same_size_but_another_rank_is_a_wrong_shape() {
    let weights = file(&[("fc.weight", &f32s(&[10, 512]))]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert_eq!(loader.tensor::<Ix4>("fc.weight", &[10, 512, 1, 1]), None);
    assert!(matches!(
        problems(loader.finish())[..],
        [WeightProblem::WrongShape { .. }]
    ));
}

#[test]
fn half_bfloat_and_double_tensors_load_as_f32_and_integers_are_refused_by_dtype_name() {
    // 1.5, -2 and 2^-24 (an f16 subnormal), in each float dtype.
    let half = [0x3e00u16, 0xc000, 0x0001];
    let bfloat = [0x3fc0u16, 0xc000, 0x3380];
    let double = [1.5f64, -2.0, 2f64.powi(-24)];
    let raw_of = |dtype, bytes: Vec<u8>| Raw {
        dtype,
        shape: vec![3],
        bytes,
    };
    let weights = file(&[
        (
            "half",
            &raw_of(
                Dtype::F16,
                half.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ),
        (
            "bfloat",
            &raw_of(
                Dtype::BF16,
                bfloat.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ),
        (
            "double",
            &raw_of(
                Dtype::F64,
                double.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ),
        ("bn1.bias", &raw(Dtype::I32, &[64])),
    ]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    for key in ["half", "bfloat", "double"] {
        let values = loader.tensor::<Ix1>(key, &[3]).unwrap();
        assert_eq!(values.to_vec(), [1.5, -2.0, 2f32.powi(-24)], "{key}");
    }
    assert!(loader.tensor::<Ix1>("bn1.bias", &[64]).is_none());
    let err = loader.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        "<in-memory weights>: 1 problem\n  \
         `bn1.bias` is I32, expected F32 (convert it with `.float()` before saving)"
    );
}

#[test]
fn a_tensor_with_wrong_shape_and_dtype_reports_both() {
    let weights = file(&[("bn1.weight", &raw(Dtype::I64, &[32]))]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    assert!(loader.tensor::<Ix1>("bn1.weight", &[64]).is_none());
    assert_eq!(
        problems(loader.finish()),
        [
            WeightProblem::WrongShape {
                key: "bn1.weight".into(),
                expected: vec![64],
                got: vec![32],
            },
            WeightProblem::WrongDtype {
                key: "bn1.weight".into(),
                got: "I64".into(),
            },
        ]
    );
}

#[test]
fn every_problem_is_reported_in_one_error() {
    let weights = file(&[
        ("conv1.weight", &f32s(&[64, 3, 3, 3])),
        ("bn1.weight", &raw(Dtype::I64, &[64])),
        ("bn1.bias", &f32s(&[64])),
        ("fc.weight", &f32s(&[10, 64])),
    ]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    let _ = loader.tensor::<Ix4>("conv1.weight", &[64, 3, 7, 7]);
    let _ = loader.tensor::<Ix1>("bn1.weight", &[64]);
    let _ = loader.tensor::<Ix1>("bn1.bias", &[64]);
    let _ = loader.tensor::<Ix1>("bn1.running_var", &[64]);
    assert_eq!(
        loader.finish().unwrap_err().to_string(),
        "<in-memory weights>: 4 problems\n  \
         `conv1.weight` has shape [64, 3, 3, 3], expected [64, 3, 7, 7]\n  \
         `bn1.weight` is I64, expected F32 (convert it with `.float()` before saving)\n  \
         missing `bn1.running_var`, expected an F32 tensor of shape [64]\n  \
         unexpected `fc.weight`: the network has no parameter of this name\n\
         (keys the network does not use are allowed with `LoadOptions { strict: false, .. }`)"
    );
}

#[test]
fn strict_mode_reports_unused_keys_and_lenient_mode_ignores_them() {
    let weights = file(&[("fc.weight", &f32s(&[2, 2])), ("extra", &f32s(&[1]))]);

    let mut strict = Loader::new(&weights, &LoadOptions::default());
    assert!(strict.tensor::<Ix2>("fc.weight", &[2, 2]).is_some());
    assert_eq!(
        problems(strict.finish()),
        [WeightProblem::Unexpected {
            key: "extra".into()
        }]
    );

    let mut lenient_loader = Loader::new(&weights, &lenient());
    assert!(lenient_loader.tensor::<Ix2>("fc.weight", &[2, 2]).is_some());
    assert!(lenient_loader.finish().is_ok());
}

#[test]
fn lenient_mode_still_reports_missing_keys() {
    let weights = file(&[("extra", &f32s(&[1]))]);
    let mut loader = Loader::new(&weights, &lenient());
    assert!(loader.tensor::<Ix1>("fc.bias", &[2]).is_none());
    assert!(matches!(
        problems(loader.finish())[..],
        [WeightProblem::Missing { .. }]
    ));
}

#[test]
fn a_prefix_selects_one_block_and_strict_mode_looks_only_under_it() {
    let weights = file(&[
        ("conv1.weight", &f32s(&[4, 3, 7, 7])),
        ("layer1.0.conv1.weight", &f32s(&[4, 4, 3, 3])),
        ("layer1.0.bn1.weight", &f32s(&[4])),
        ("layer1.1.conv1.weight", &f32s(&[4, 4, 3, 3])),
        ("layer1.01.conv1.weight", &f32s(&[1])), // shares a string prefix, not a module path
    ]);
    for prefix in ["layer1.0", "layer1.0."] {
        let options = LoadOptions {
            prefix: prefix.into(),
            ..LoadOptions::default()
        };
        let mut loader = Loader::new(&weights, &options);
        let w = loader.tensor::<Ix4>("conv1.weight", &[4, 4, 3, 3]).unwrap();
        assert_eq!(w[[0, 0, 0, 1]], 1.0);
        assert_eq!(
            problems(loader.finish()),
            [WeightProblem::Unexpected {
                key: "layer1.0.bn1.weight".into()
            }],
            "prefix {prefix:?}"
        );
    }
}

#[test]
fn num_batches_tracked_is_skipped_in_strict_and_lenient_mode() {
    let weights = file(&[
        ("bn1.weight", &f32s(&[4])),
        ("bn1.num_batches_tracked", &raw(Dtype::I64, &[])),
        ("layer1.0.bn2.num_batches_tracked", &raw(Dtype::I64, &[])),
    ]);
    for options in [LoadOptions::default(), lenient()] {
        let mut loader = Loader::new(&weights, &options);
        assert!(loader.tensor::<Ix1>("bn1.weight", &[4]).is_some());
        assert!(loader.finish().is_ok(), "strict: {}", options.strict);
    }
}

#[test]
fn a_truncated_file_is_a_format_error_not_a_panic() -> TestResult {
    let full = std::fs::read(STEM)?;
    let header_end = 8 + u64::from_le_bytes(full[..8].try_into()?) as usize;
    // Inside the length, inside the header, at the end of the header, inside the data, and one
    // byte short.
    for cut in [0, 5, 8, 100, header_end, header_end + 1000, full.len() - 1] {
        let bytes = full[..cut].to_vec();
        match Weights::from_bytes(bytes) {
            Err(LoadError::Format { message, .. }) => assert!(!message.is_empty()),
            other => panic!("cut at {cut}: expected a format error, got {other:?}"),
        }
    }
    // The same through a file on disk.
    let path = TempPath::new("truncated");
    std::fs::write(&path.0, &full[..full.len() / 2])?;
    let err = Weights::open(&path.0).unwrap_err();
    assert!(
        err.to_string()
            .contains("the file is truncated or has trailing bytes"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_header_with_a_bad_length_says_so() {
    let mut bytes = 1_000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let err = Weights::from_bytes(bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<in-memory weights>: not a valid safetensors file: the header is declared as 1000 bytes \
         but only 2 follow; the file is truncated or is not a safetensors file"
    );
}

#[test]
fn a_hostile_header_length_is_refused_before_anything_is_allocated_for_it() {
    // Declared lengths from just past safetensors' 100 MB limit to u64::MAX, on a file of
    // 10 bytes: each is refused by the 8-byte length alone, so nothing of that size is
    // allocated or read.
    for declared in [100_000_001, 1 << 40, u64::MAX] {
        let mut bytes = declared.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let err = Weights::from_bytes(bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "<in-memory weights>: not a valid safetensors file: the header is declared as \
                 {declared} bytes, above safetensors' 100 MB limit; this is probably not a \
                 safetensors file"
            )
        );
    }
}

#[test]
fn an_empty_file_is_a_format_error() -> TestResult {
    let path = TempPath::new("empty");
    std::fs::write(&path.0, [])?;
    assert!(matches!(
        Weights::open(&path.0),
        Err(LoadError::Format { .. })
    ));
    Ok(())
}

#[test]
fn a_nonexistent_path_is_an_io_error_naming_the_path() {
    let path = std::env::temp_dir().join("stride-no-such-dir/model.safetensors");
    match Weights::open(&path) {
        Err(LoadError::Io { path: p, error }) => {
            assert_eq!(p, path);
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an io error, got {other:?}"),
    }
}

#[test]
fn saving_refuses_a_duplicate_key_and_the_metadata_key() {
    let mut saver = Saver::new();
    saver.add("a", &Array1::<f32>::zeros(1)).unwrap();
    assert!(matches!(
        saver.add("a", &Array1::<f32>::zeros(2)),
        Err(SaveError::Duplicate { .. })
    ));
    assert!(matches!(
        saver.add("__metadata__", &Array1::<f32>::zeros(1)),
        Err(SaveError::ReservedKey)
    ));
}

#[test]
fn writing_into_a_missing_directory_is_an_io_error() {
    let path = std::env::temp_dir().join("stride-no-such-dir/out.safetensors");
    assert!(matches!(
        Saver::new().write(&path),
        Err(SaveError::Io { .. })
    ));
}

#[test]
fn writing_over_an_open_file_replaces_it_without_disturbing_the_open_one() -> TestResult {
    let path = TempPath::new("overwrite");
    let mut first = Saver::new();
    first.add("a", &Array1::from(vec![1.0f32, 2.0]))?;
    first.write(&path.0)?;
    let open = Weights::open(&path.0)?;

    let mut second = Saver::new();
    second.add("b", &Array1::from(vec![3.0f32]))?;
    second.write(&path.0)?;

    let mut loader = Loader::new(&open, &LoadOptions::default());
    assert_eq!(
        loader.tensor::<Ix1>("a", &[2]),
        Some(Array1::from(vec![1.0, 2.0]))
    );
    loader.finish()?;
    assert_eq!(Weights::open(&path.0)?.keys().collect::<Vec<_>>(), ["b"]);
    Ok(())
}

#[test]
fn the_resnet18_stem_checkpoint_lists_torchvision_keys_and_loads_conv1() -> TestResult {
    let weights = Weights::open(STEM)?;
    assert_eq!(
        weights.keys().collect::<Vec<_>>(),
        [
            "bn1.bias",
            "bn1.running_mean",
            "bn1.running_var",
            "bn1.weight",
            "conv1.weight",
            "input",
            "output"
        ]
    );
    let mut loader = Loader::new(&weights, &lenient());
    let conv1 = loader
        .tensor::<Ix4>("conv1.weight", &[64, 3, 7, 7])
        .unwrap();
    let var = loader.tensor::<Ix1>("bn1.running_var", &[64]).unwrap();
    loader.finish()?;
    // The first and last values, as Python's `struct.unpack('<f', …)` reads them.
    assert_eq!(conv1[[0, 0, 0, 0]], 0.002_734_412);
    assert_eq!(conv1[[63, 2, 6, 6]], -0.023_599_004);
    assert!(var.iter().all(|&v| v > 0.0));
    Ok(())
}

// Readable errors.

/// The keys of `blocks` ResNet-like blocks of 6 tensors each, every key under `prefix`.
fn block_keys(prefix: &str, blocks: usize) -> impl Iterator<Item = String> + '_ {
    let tensors = [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "conv2.weight",
        "bn2.weight",
        "bn2.bias",
    ];
    (0..blocks).flat_map(move |block| {
        tensors.map(|tensor| format!("{prefix}layer{}.{}.{tensor}", block / 2 + 1, block % 2))
    })
}

/// A checkpoint of the [`block_keys`] under `prefix`, each a tensor of 2 zeros.
fn blocks(prefix: &str, blocks: usize) -> Weights {
    let mut saver = Saver::new();
    for key in block_keys(prefix, blocks) {
        saver.add(key, &Array1::<f32>::zeros(2)).unwrap();
    }
    Weights::from_bytes(saver.to_bytes().unwrap()).unwrap()
}

/// Asks `loader` for the keys [`blocks`] writes, without a prefix.
fn ask_for_blocks(loader: &mut Loader<'_>, blocks: usize) {
    for key in block_keys("", blocks) {
        assert!(loader.tensor::<Ix1>(&key, &[2]).is_none());
    }
}

#[test]
fn a_checkpoint_under_another_prefix_gives_a_short_debug_listing_twenty_problems_and_the_prefix() {
    // 16 blocks of 6 tensors under `model.`: 96 missing keys and 96 unexpected ones, which
    // the derived Debug printed on one line, every problem in full.
    let weights = blocks("model.", 16);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    ask_for_blocks(&mut loader, 16);
    let err = loader.finish().unwrap_err();
    let LoadError::Problems { problems, hint, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 192);
    let hint = hint.as_ref().expect("a prefix hint");
    assert_eq!((hint.prefix.as_str(), hint.matched), ("model", 96));
    assert_eq!(
        (hint.missing.as_str(), hint.found.as_str()),
        ("layer1.0.conv1.weight", "model.layer1.0.conv1.weight")
    );

    let debug = format!("{err:?}");
    assert_eq!(debug, err.to_string());
    let lines: Vec<&str> = debug.lines().collect();
    assert_eq!(lines[0], "<in-memory weights>: 192 problems");
    assert_eq!(lines.len(), 1 + 20 + 1 + 1, "{debug}");
    assert_eq!(
        lines[21],
        "  … and 172 more (every problem is in `LoadError::Problems { problems, .. }`)"
    );
    assert_eq!(
        lines[22],
        "hint: 96 of the missing keys are in the file under another prefix \
         (`layer1.0.conv1.weight` is `model.layer1.0.conv1.weight`): load with \
         `LoadOptions { prefix: \"model\".into(), .. }`"
    );
    assert!(debug.len() < 2000, "{} bytes", debug.len());

    // And the prefix it names loads the whole checkpoint.
    let options = LoadOptions {
        prefix: hint.prefix.clone(),
        ..LoadOptions::default()
    };
    let mut loader = Loader::new(&weights, &options);
    for block in 0..16 {
        let key = format!("layer{}.{}.conv1.weight", block / 2 + 1, block % 2);
        assert!(loader.tensor::<Ix1>(&key, &[2]).is_some());
    }
}

#[test]
fn a_missing_key_found_under_another_prefix_names_the_prefix_option() {
    // torchvision's VGG: the network's `0.weight` is the file's `features.0.weight`.
    let w = f32s(&[2]);
    let weights = file(&[("features.0.weight", &w), ("features.0.bias", &w)]);
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    for key in ["0.weight", "0.bias"] {
        assert!(loader.tensor::<Ix1>(key, &[2]).is_none());
    }
    let err = loader.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        "<in-memory weights>: 4 problems\n  \
         missing `0.weight`, expected an F32 tensor of shape [2]\n  \
         missing `0.bias`, expected an F32 tensor of shape [2]\n  \
         unexpected `features.0.bias`: the network has no parameter of this name\n  \
         unexpected `features.0.weight`: the network has no parameter of this name\n\
         hint: 2 of the missing keys are in the file under another prefix (`0.weight` is \
         `features.0.weight`): load with `LoadOptions { prefix: \"features\".into(), .. }`"
    );
}

#[test]
fn the_prefix_hint_also_corrects_a_wrong_prefix_and_works_in_lenient_mode() {
    // A prefix one level too short: `layer1.conv1.weight` is `layer1.0.conv1.weight`.
    let one_block = blocks("", 1);
    let options = LoadOptions {
        prefix: "layer1".into(),
        ..lenient()
    };
    let mut loader = Loader::new(&one_block, &options);
    assert!(loader.tensor::<Ix1>("conv1.weight", &[2]).is_none());
    let Err(LoadError::Problems {
        hint: Some(hint), ..
    }) = loader.finish()
    else {
        panic!("expected a hint")
    };
    assert_eq!(hint.prefix, "layer1.0");
    // A prefix the file does not use at all: load with none.
    let weights = blocks("", 2);
    let options = LoadOptions {
        prefix: "backbone".into(),
        ..LoadOptions::default()
    };
    let mut loader = Loader::new(&weights, &options);
    ask_for_blocks(&mut loader, 2);
    let err = loader.finish().unwrap_err();
    let LoadError::Problems {
        hint: Some(hint), ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((hint.prefix.as_str(), hint.matched), ("", 12));
    assert!(
        err.to_string()
            .ends_with("load with no prefix, `LoadOptions { prefix: String::new(), .. }`"),
        "{err}"
    );
}

#[test]
fn no_prefix_hint_when_the_missing_key_is_under_several_prefixes_alike() {
    // The network is a lone layer asking for `weight`: `conv1.weight` and `fc.weight` are
    // equally good guesses, so neither is offered.
    let w = f32s(&[2]);
    let weights = file(&[("conv1.weight", &w), ("fc.weight", &w)]);
    let mut loader = Loader::new(&weights, &lenient());
    assert!(loader.tensor::<Ix1>("weight", &[2]).is_none());
    let Err(LoadError::Problems { hint, .. }) = loader.finish() else {
        panic!("expected problems")
    };
    assert_eq!(hint, None);
}

#[test]
fn save_and_io_errors_debug_as_their_message() {
    let err = Saver::new()
        .write(std::env::temp_dir().join("stride-no-such-dir/out.safetensors"))
        .unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    assert!(err.to_string().contains("stride-no-such-dir"), "{err}");
    let err = Weights::open("no/such/file.safetensors").unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    assert!(
        err.to_string().starts_with("no/such/file.safetensors: "),
        "{err}"
    );
}

// Hostile files.

/// A safetensors file whose header is `header` (padded to 8 bytes) and whose data is `data`.
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header.as_bytes().to_vec();
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    bytes
}

#[test]
fn a_header_that_lists_a_key_twice_is_refused_where_safetensors_keeps_the_last() {
    // `a` twice: as F32 and as I32, over the same 4 bytes.
    let bytes = with_header(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#,
        &1.5f32.to_le_bytes(),
    );
    // The finding: safetensors' own parser accepts it, and the second entry wins.
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(parsed.tensor("a").unwrap().dtype(), Dtype::I32);
    let err = Weights::from_bytes(bytes).unwrap_err();
    assert!(matches!(err, LoadError::Format { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "<in-memory weights>: not a valid safetensors file: the header lists `a` twice; a \
         reader would keep one silently (safetensors keeps the last), so the file does not say \
         which tensor `a` is"
    );
    // Written with an escape, the key is the same one: keys are compared decoded.
    let bytes = with_header(
        r#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"ab":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a\u0062":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        &[0; 8],
    );
    let err = Weights::from_bytes(bytes).unwrap_err();
    assert!(err.to_string().contains("lists `ab` twice"), "{err}");
    // Escapes that decode to different keys are different keys.
    let bytes = with_header(
        r#"{"ab":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a\u0063":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
        &[0; 8],
    );
    let weights = Weights::from_bytes(bytes).unwrap();
    assert_eq!(weights.keys().collect::<Vec<_>>(), ["ab", "ac"]);
}

#[test]
fn non_finite_weights_and_negative_variances_load_as_in_pytorch_and_validate_reports_them() {
    let mut saver = Saver::new();
    let mut weight = Array2::<f32>::ones((2, 3));
    weight[[1, 2]] = f32::NAN;
    weight[[0, 1]] = f32::INFINITY;
    saver.add("fc.weight", &weight).unwrap();
    saver
        .add(
            "bn.running_var",
            &Array1::from(vec![1.0f32, -0.5, -2.0, 0.0]),
        )
        .unwrap();
    saver
        .add("bn.running_mean", &Array1::from(vec![-1.0f32; 4]))
        .unwrap();
    let weights = Weights::from_bytes(saver.to_bytes().unwrap()).unwrap();
    let ask = |options: &LoadOptions| {
        let mut loader = Loader::new(&weights, options);
        let w = loader.tensor::<Ix2>("fc.weight", &[2, 3]);
        let var = loader.tensor::<Ix1>("bn.running_var", &[4]);
        let mean = loader.tensor::<Ix1>("bn.running_mean", &[4]);
        (w, var, mean, loader.finish())
    };
    // By default they load: a negative mean is no problem, and NaN and infinity are values.
    let (w, var, mean, finished) = ask(&LoadOptions::default());
    finished.unwrap();
    assert!(w.unwrap()[[1, 2]].is_nan());
    assert_eq!(var.unwrap()[1], -0.5);
    assert_eq!(mean.unwrap()[0], -1.0);
    // With `validate`, each is a problem naming the key, the count and the first place.
    let validate = LoadOptions {
        validate: true,
        ..LoadOptions::default()
    };
    let (_, _, _, finished) = ask(&validate);
    assert_eq!(
        problems(finished),
        [
            WeightProblem::NonFinite {
                key: "fc.weight".into(),
                count: 2,
                first: vec![0, 1],
            },
            WeightProblem::NegativeVariance {
                key: "bn.running_var".into(),
                count: 2,
                channel: 1,
            },
        ]
    );
}

#[test]
fn loads_and_saves_of_one_path_from_several_threads_each_see_a_whole_file() -> TestResult {
    // Four writers save versions whose every value is the version's number; four readers
    // open the path again and again and read both tensors. A reader must see one whole
    // version (both tensors, every value alike), never a mix or a torn file; every call
    // either works or returns an error (none does here: the rename is atomic and a mapped
    // file stays valid after it is replaced).
    let path = TempPath::new("threads");
    let version = |v: f32| {
        let mut saver = Saver::new();
        saver.add("a", &Array1::from_elem(50_000, v)).unwrap();
        saver.add("b", &Array1::from_elem(7, v)).unwrap();
        saver
    };
    version(0.0).write(&path.0)?;
    let reads = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for writer in 0..4 {
            let (path, version) = (&path.0, &version);
            s.spawn(move || {
                for i in 0..25 {
                    let v = (writer * 100 + i + 1) as f32;
                    version(v).write(path).expect("a save");
                }
            });
        }
        for _ in 0..4 {
            let (path, reads) = (&path.0, &reads);
            s.spawn(move || {
                for _ in 0..50 {
                    let weights = Weights::open(path).expect("a whole file");
                    let mut loader = Loader::new(&weights, &LoadOptions::default());
                    let a = loader.tensor::<Ix1>("a", &[50_000]).unwrap();
                    let b = loader.tensor::<Ix1>("b", &[7]).unwrap();
                    loader.finish().unwrap();
                    let v = a[0];
                    assert!(a.iter().chain(&b).all(|&x| x == v), "a torn version {v}");
                    reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(reads.into_inner(), 200);
    // No temporary file is left beside it.
    let dir = path.0.parent().unwrap();
    let name = path.0.file_name().unwrap().to_string_lossy().into_owned();
    let leftovers: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    Ok(())
}
