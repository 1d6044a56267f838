//! Reading PyTorch's own `.pth` checkpoints: the fixtures `tests/golden/pth/make_pth.py`
//! wrote with `torch.save` (a state_dict, a training checkpoint, dtypes and strided views, and
//! files that must be refused), hostile bytes, and the rename rules of `LoadOptions`.

use std::io::Write as _;

use ndarray::{ArrayD, Ix1, Ix2, IxDyn};
use stride_runtime::weights::{KeyRule, LoadError, LoadOptions, Loader, WeightProblem, Weights};

fn fixture(name: &str) -> String {
    format!("{}/../tests/golden/pth/{name}", env!("CARGO_MANIFEST_DIR"))
}

const STEM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/golden/resnet18_stem.safetensors"
);

/// The keys of ResNet-18's stem, as its state_dict names them.
const STEM_KEYS: [&str; 6] = [
    "bn1.bias",
    "bn1.num_batches_tracked",
    "bn1.running_mean",
    "bn1.running_var",
    "bn1.weight",
    "conv1.weight",
];

/// Tensor `key` of `weights` as an array of its own shape (through a lenient loader).
fn read(weights: &Weights, key: &str) -> ArrayD<f32> {
    let shape = weights
        .shape(key)
        .unwrap_or_else(|| panic!("no `{key}`"))
        .to_vec();
    let options = LoadOptions::default();
    let mut loader = Loader::new(
        weights,
        &LoadOptions {
            strict: false,
            ..options
        },
    );
    let array = loader.tensor::<IxDyn>(key, &shape);
    loader.finish().unwrap_or_else(|e| panic!("{e}"));
    array.unwrap()
}

fn problems(result: Result<(), LoadError>) -> Vec<WeightProblem> {
    match result {
        Err(LoadError::Problems { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn a_state_dict_reads_the_same_tensors_as_the_safetensors_it_was_made_from() -> TestResult {
    let pth = Weights::open(fixture("state_dict.pth"))?;
    let golden = Weights::open(STEM)?;
    assert_eq!(pth.keys().collect::<Vec<_>>(), STEM_KEYS);
    assert_eq!(pth.dtype("bn1.num_batches_tracked").as_deref(), Some("I64"));
    assert_eq!(pth.dtype("conv1.weight").as_deref(), Some("F32"));
    for key in STEM_KEYS.iter().filter(|k| !k.ends_with("tracked")) {
        assert_eq!(read(&pth, key), read(&golden, key), "{key}");
    }
    Ok(())
}

#[test]
fn a_checkpoint_dict_reads_its_state_dict_and_skips_epoch_optimizer_and_strings() -> TestResult {
    let checkpoint = Weights::open(fixture("checkpoint.pth"))?;
    let plain = Weights::open(fixture("state_dict.pth"))?;
    assert_eq!(checkpoint.keys().collect::<Vec<_>>(), STEM_KEYS);
    for key in STEM_KEYS.iter().filter(|k| !k.ends_with("tracked")) {
        assert_eq!(read(&checkpoint, key), read(&plain, key), "{key}");
    }
    Ok(())
}

#[test]
fn another_entry_of_a_checkpoint_opens_by_its_dotted_path() -> TestResult {
    let ema = Weights::open_entry(fixture("checkpoint.pth"), "model_ema")?;
    let plain = Weights::open(fixture("state_dict.pth"))?;
    assert_eq!(ema.keys().collect::<Vec<_>>(), STEM_KEYS);
    // The script saved the averaged weights as half the model's.
    let half = read(&plain, "conv1.weight") * 0.5;
    assert_eq!(read(&ema, "conv1.weight"), half);

    // The optimizer's momentum buffers, keyed by parameter index.
    let state = Weights::open_entry(fixture("checkpoint.pth"), "optimizer.state")?;
    assert_eq!(state.shape("0.momentum_buffer"), Some(&[64, 3, 7, 7][..]));

    let err = Weights::open_entry(fixture("checkpoint.pth"), "ema").unwrap_err();
    assert!(matches!(err, LoadError::Checkpoint { .. }), "{err}");
    assert!(
        err.to_string().ends_with(
            "the checkpoint has no entry `ema`; its entries are `epoch`, `arch`, `best_acc1`, \
             `state_dict`, `optimizer`, `model_ema`"
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn half_bfloat_double_and_strided_views_read_as_the_values_torch_wrote() -> TestResult {
    let views = Weights::open(fixture("views.pth"))?;
    let expected = Weights::open(fixture("views_expected.safetensors"))?;
    assert_eq!(
        views.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for key in expected.keys() {
        assert_eq!(views.shape(key), expected.shape(key), "{key}");
        assert_eq!(read(&views, key), read(&expected, key), "{key}");
    }
    assert_eq!(views.dtype("half").as_deref(), Some("F16"));
    assert_eq!(views.dtype("bfloat").as_deref(), Some("BF16"));
    assert_eq!(views.dtype("double").as_deref(), Some("F64"));
    // The transposed view is the transpose, not the storage's order.
    assert_eq!(read(&views, "transposed")[[0, 1]], 10.0 / 7.0);
    assert_eq!(read(&views, "sliced")[[0, 1]], 15.0 / 7.0);
    Ok(())
}

#[test]
fn a_pickle_that_calls_os_system_is_refused_naming_it() {
    let err = Weights::open(fixture("forbidden.pth")).unwrap_err();
    let LoadError::ForbiddenGlobal { global, .. } = &err else {
        panic!("{err}")
    };
    // `os.system` is defined in (and pickled as) the `posix` module on Linux and macOS.
    assert_eq!(global, "posix.system");
    assert!(
        err.to_string().ends_with(
            "forbidden.pth: the checkpoint's pickle calls `posix.system`, which stride does not \
             run: only tensors and plain containers are read (save `model.state_dict()` rather \
             than the model)"
        ),
        "{err}"
    );
}

#[test]
fn a_whole_pickled_module_is_refused_naming_its_class() {
    let err = Weights::open(fixture("whole_module.pth")).unwrap_err();
    let LoadError::ForbiddenGlobal { global, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(global, "torch.nn.modules.linear.Linear");
}

#[test]
fn the_format_before_pytorch_1_6_is_refused_with_how_to_resave_it() {
    let err = Weights::open(fixture("legacy.pth")).unwrap_err();
    assert!(matches!(err, LoadError::Checkpoint { .. }), "{err}");
    assert!(
        err.to_string().ends_with(
            "this is PyTorch's format before 1.6 (a bare pickle), which stride does not read; \
             re-save it as a zip checkpoint with PyTorch 1.6 or later: \
             `torch.save(torch.load(path, weights_only=True), path)`"
        ),
        "{err}"
    );
}

#[test]
fn a_big_endian_checkpoint_is_refused() {
    let err = Weights::open(fixture("big_endian.pth")).unwrap_err();
    assert!(
        err.to_string().contains(
            "not a readable PyTorch checkpoint: the storages are in `big` byte order; stride \
             reads little-endian checkpoints"
        ),
        "{err}"
    );
}

/// Opens `bytes` and, when they open, reads every tensor that is a float: whatever the bytes,
/// an error or values, never a panic.
fn open_and_read_all(bytes: Vec<u8>) -> Result<usize, LoadError> {
    let weights = Weights::from_bytes(bytes)?;
    let keys: Vec<String> = weights.keys().map(String::from).collect();
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    for key in &keys {
        let shape = weights.shape(key).unwrap().to_vec();
        let _ = loader.tensor::<IxDyn>(key, &shape);
    }
    let _ = loader.finish();
    Ok(keys.len())
}

#[test]
fn every_truncation_of_a_checkpoint_is_an_error_not_a_panic() {
    let whole = std::fs::read(fixture("views.pth")).unwrap();
    for len in 0..whole.len() {
        let result = open_and_read_all(whole[..len].to_vec());
        assert!(result.is_err(), "{len} of {} bytes opened", whole.len());
    }
    assert_eq!(open_and_read_all(whole).unwrap(), 9);
}

#[test]
fn flipped_bytes_anywhere_in_a_checkpoint_give_errors_or_values_not_panics() {
    let whole = std::fs::read(fixture("views.pth")).unwrap();
    let mut opened = 0;
    let mut refused = 0;
    for at in 0..whole.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bytes = whole.clone();
            bytes[at] ^= flip;
            match open_and_read_all(bytes) {
                Ok(_) => opened += 1,
                Err(_) => refused += 1,
            }
        }
    }
    // Flips inside the storages' bytes change values and still open; flips in the pickle or
    // the zip's records are refused. Both kinds happen.
    assert!(
        opened > 0 && refused > 0,
        "{opened} opened, {refused} refused"
    );
}

/// A zip archive of `members` under `archive/`, stored, as torch.save lays one out.
fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(format!("archive/{name}"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A pickle integer, as an 8-byte `LONG1`.
fn int(value: i64) -> Vec<u8> {
    let mut out = vec![0x8a, 8];
    out.extend(value.to_le_bytes());
    out
}

/// A short string.
fn text(s: &str) -> Vec<u8> {
    let mut out = vec![0x8c, s.len() as u8];
    out.extend(s.as_bytes());
    out
}

/// The pickle of `{'w': tensor}`, the tensor a view (`offset`, `shape`, `strides`) of an F32
/// storage declared `numel` elements long.
fn tensor_pickle(numel: i64, offset: i64, shape: &[i64], strides: &[i64]) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'('];
    p.extend(text("w"));
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
    p.extend(text("storage"));
    p.extend(b"ctorch\nFloatStorage\n");
    p.extend(text("0"));
    p.extend(text("cpu"));
    p.extend(int(numel));
    p.extend(b"tQ");
    p.extend(int(offset));
    for dims in [shape, strides] {
        p.push(b'(');
        dims.iter().for_each(|&d| p.extend(int(d)));
        p.push(b't');
    }
    p.extend(b"\x89ccollections\nOrderedDict\n)Rt");
    p.extend(b"Ru.");
    p
}

/// A checkpoint whose only tensor is that view, over a storage of `bytes` bytes.
fn view_file(numel: i64, offset: i64, shape: &[i64], strides: &[i64], bytes: usize) -> Vec<u8> {
    let pickle = tensor_pickle(numel, offset, shape, strides);
    archive(&[
        ("data.pkl", &pickle),
        ("byteorder", b"little"),
        ("data/0", &vec![0; bytes]),
    ])
}

fn checkpoint_error(bytes: Vec<u8>) -> String {
    match Weights::from_bytes(bytes) {
        Err(err @ LoadError::Checkpoint { .. }) => err.to_string(),
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[test]
fn a_hand_made_view_reads_as_torch_would() -> TestResult {
    // A 2x2 view, transposed, of a 6-element storage holding 0..6, from offset 1.
    let values: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let pickle = tensor_pickle(6, 1, &[2, 2], &[1, 3]);
    let bytes = archive(&[("data.pkl", &pickle), ("data/0", &values)]);
    let weights = Weights::from_bytes(bytes)?;
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    let w = loader.tensor::<Ix2>("w", &[2, 2]).unwrap();
    loader.finish()?;
    assert_eq!(w.into_raw_vec_and_offset().0, [1.0, 4.0, 2.0, 5.0]);
    Ok(())
}

#[test]
fn views_past_their_storage_and_storages_past_their_bytes_are_refused() {
    let past_end = checkpoint_error(view_file(6, 4, &[2, 2], &[2, 1], 24));
    assert!(
        past_end.ends_with(
            "tensor `w`: a view of shape [2, 2], strides [2, 1] at offset 4 reaches past its \
             storage of 6 elements"
        ),
        "{past_end}"
    );
    let short = checkpoint_error(view_file(6, 0, &[6], &[1], 20));
    assert!(
        short.ends_with(
            "tensor `w`: its storage `data/0` holds 20 bytes, not the 24 that 6 F32 elements need"
        ),
        "{short}"
    );
    // A storage declared with 2^62 elements: its byte count overflows.
    let huge = checkpoint_error(view_file(1 << 62, 0, &[1], &[1], 4));
    assert!(
        huge.contains("a storage of 4611686018427387904 elements"),
        "{huge}"
    );
    // A shape whose element count overflows, over a stride-0 (expanded) view.
    let overflow = checkpoint_error(view_file(1, 0, &[1 << 40, 1 << 40], &[0, 0], 4));
    assert!(overflow.contains("whose size overflows"), "{overflow}");
    let negative = checkpoint_error(view_file(6, 0, &[-1], &[1], 24));
    assert!(negative.contains("a tensor shape of -1"), "{negative}");
    let missing = checkpoint_error(archive(&[("data.pkl", &tensor_pickle(1, 0, &[1], &[1]))]));
    assert!(
        missing.ends_with("the archive has no member `archive/data/0`"),
        "{missing}"
    );
}

#[test]
fn an_expanded_view_is_read_as_many_copies_of_its_element() -> TestResult {
    // torch.zeros(1).expand(3, 4) saves a one-element storage with strides (0, 0).
    let bytes = archive(&[
        ("data.pkl", &tensor_pickle(1, 0, &[3, 4], &[0, 0])),
        ("data/0", &2.5f32.to_le_bytes()),
    ]);
    let weights = Weights::from_bytes(bytes)?;
    let mut loader = Loader::new(&weights, &LoadOptions::default());
    let w = loader.tensor::<Ix2>("w", &[3, 4]).unwrap();
    loader.finish()?;
    assert!(w.iter().all(|&v| v == 2.5) && w.len() == 12);
    Ok(())
}

#[test]
fn deep_nesting_and_memo_copies_are_bounded() {
    // An empty tuple wrapped in 10 000 one-element tuples (`TUPLE1`, over and over).
    let mut deep = vec![0x80, 2, b')'];
    deep.extend(std::iter::repeat_n(0x85, 10_000));
    deep.push(b'.');
    let err = checkpoint_error(archive(&[("data.pkl", &deep)]));
    assert!(err.contains("containers nested more than 64 deep"), "{err}");

    // A list that doubles 60 times through memo copies: 2^60 elements if nothing stopped it.
    let mut doubling = vec![0x80, 2, b']'];
    for _ in 0..60 {
        doubling.extend([b'q', 0, b'0', b'(', b'h', 0, b'h', 0, b'l']);
    }
    doubling.push(b'.');
    let err = checkpoint_error(archive(&[("data.pkl", &doubling)]));
    assert!(err.contains("more than 1048576 values"), "{err}");

    // A string that declares 4 GB and holds 3 bytes.
    let mut long = vec![0x80, 2, b'X'];
    long.extend(u32::MAX.to_le_bytes());
    long.extend(b"abc.");
    let err = checkpoint_error(archive(&[("data.pkl", &long)]));
    assert!(err.contains("4294967295 bytes needed, 4 remain"), "{err}");
}

#[test]
fn an_archive_without_a_pickle_or_with_a_compressed_member_is_refused() {
    let err = checkpoint_error(archive(&[("data/0", b"1234")]));
    assert!(err.contains("holds no `<name>/data.pkl`"), "{err}");

    // With no deflate encoder compiled in, write the member stored and mark it deflated: the
    // method field is at offset 8 of the local header and 10 of the central directory's.
    let mut bytes = archive(&[("data.pkl", &tensor_pickle(1, 0, &[1], &[1]))]);
    bytes[8] = 8;
    let central = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("a central directory");
    bytes[central + 10] = 8;
    let err = Weights::from_bytes(bytes).unwrap_err().to_string();
    assert!(
        err.contains("member `archive/data.pkl` is compressed"),
        "{err}"
    );
}

// Rename rules.

fn stem_pth() -> Weights {
    Weights::open(fixture("state_dict.pth")).unwrap()
}

#[test]
fn an_added_prefix_and_a_rename_give_the_networks_keys() {
    let weights = stem_pth();
    // The file's `bn1.weight` is the network's `stem.norm.weight`.
    let options = LoadOptions::default()
        .rename("bn1", "norm")
        .add_prefix("stem");
    let mut loader = Loader::new(
        &weights,
        &LoadOptions {
            strict: false,
            ..options
        },
    );
    assert!(loader.tensor::<Ix1>("stem.norm.weight", &[64]).is_some());
    assert!(loader.tensor::<Ix1>("bn1.weight", &[64]).is_none());
    let problems = problems(loader.finish());
    assert_eq!(
        problems,
        [WeightProblem::Missing {
            key: "bn1.weight".into(),
            expected: vec![64],
        }]
    );
}

#[test]
fn a_stripped_prefix_selects_part_of_a_checkpoint() -> TestResult {
    let weights = stem_pth();
    let options = LoadOptions::default().strip_prefix("bn1");
    let mut loader = Loader::new(&weights, &options);
    for key in ["weight", "bias", "running_mean", "running_var"] {
        assert!(loader.tensor::<Ix1>(key, &[64]).is_some(), "{key}");
    }
    loader.finish()?;
    Ok(())
}

#[test]
fn replacements_and_functions_apply_in_order() -> TestResult {
    let weights = stem_pth();
    let options = LoadOptions::default()
        .rename("conv1", "stem_conv")
        .rename_with(|key| {
            key.strip_prefix("bn1.")
                .map(|rest| format!("stem_bn.{rest}"))
        })
        .rename("stem_bn.weight", "stem_bn.gamma");
    let mut loader = Loader::new(&weights, &options);
    assert!(
        loader
            .tensor::<IxDyn>("stem_conv.weight", &[64, 3, 7, 7])
            .is_some()
    );
    assert!(loader.tensor::<Ix1>("stem_bn.gamma", &[64]).is_some());
    for key in ["bias", "running_mean", "running_var"] {
        assert!(
            loader
                .tensor::<Ix1>(&format!("stem_bn.{key}"), &[64])
                .is_some()
        );
    }
    loader.finish()?;
    Ok(())
}

#[test]
fn problems_with_renamed_keys_name_the_files_key_and_the_networks() {
    let weights = stem_pth();
    let options = LoadOptions::default()
        .rename("conv1", "stem")
        .rename("bn1", "norm");
    let mut loader = Loader::new(&weights, &options);
    // A wrong shape, a missing key whose file key the rules can say, and the file's conv
    // left unasked (unexpected).
    assert!(loader.tensor::<Ix1>("norm.weight", &[32]).is_none());
    assert!(loader.tensor::<Ix1>("norm.bias", &[64]).is_some());
    assert!(loader.tensor::<Ix1>("norm.running_mean", &[64]).is_some());
    assert!(loader.tensor::<Ix1>("norm.running_var", &[64]).is_some());
    assert!(loader.tensor::<Ix1>("stem.bias", &[64]).is_none());
    let err = loader.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 3 problems\n  \
             `norm.weight` has shape [64], expected [32] (the file's `bn1.weight`, renamed)\n  \
             missing `stem.bias`, expected an F32 tensor of shape [64] (the file's \
             `conv1.bias`, renamed)\n  \
             unexpected `stem.weight`: the network has no parameter of this name (the file's \
             `conv1.weight`, renamed)\n\
             (keys the network does not use are allowed with `LoadOptions {{ strict: false, .. }}`)",
            fixture("state_dict.pth")
        )
    );
    let LoadError::Problems { problems, .. } = err else {
        unreachable!()
    };
    assert_eq!(
        problems[0],
        WeightProblem::Renamed {
            file_key: "bn1.weight".into(),
            problem: Box::new(WeightProblem::WrongShape {
                key: "norm.weight".into(),
                expected: vec![32],
                got: vec![64],
            }),
        }
    );
    assert_eq!(problems[0].key(), "bn1.weight");
}

#[test]
fn two_file_keys_renamed_to_one_name_are_a_clash() {
    let weights = stem_pth();
    let options = LoadOptions {
        strict: false,
        ..LoadOptions::default()
            .rename("running_mean", "stat")
            .rename("running_var", "stat")
    };
    let loader = Loader::new(&weights, &options);
    assert_eq!(
        problems(loader.finish()),
        [WeightProblem::Clash {
            key: "bn1.stat".into(),
            file_keys: ["bn1.running_mean".into(), "bn1.running_var".into()],
        }]
    );
}

#[test]
fn rules_compare_equal_when_they_are_the_same_rule() {
    let rule = KeyRule::with(|key| Some(key.to_uppercase()));
    assert_eq!(rule, rule.clone());
    assert_ne!(rule, KeyRule::with(|key| Some(key.to_uppercase())));
    assert_eq!(KeyRule::replace("a", "b"), KeyRule::replace("a", "b"));
    assert_eq!(
        format!("{:?}", KeyRule::replace("a", "b")),
        r#"Replace { from: "a", to: "b" }"#
    );
}
