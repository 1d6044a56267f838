//! A network declared with `network!` loaded from PyTorch's own `.pth` files (written by
//! `tests/golden/pth/make_pth.py` from the weights of `resnet18_stem.safetensors`), through the
//! same `load_safetensors` and `from_weights` that read safetensors, and run on that golden's
//! stored input.

mod support;

use stride::runtime::weights::{LoadError, LoadOptions, Weights};
use support::{golden, input_and_output, worst_difference};

#[path = "../examples/models/mod.rs"]
mod models;

use models::ResNetStem;

#[test]
fn a_network_loaded_from_a_state_dict_pth_matches_pytorch() {
    let net = ResNetStem::load_safetensors(golden("pth/state_dict.pth")).unwrap();
    let (x, want) = input_and_output("resnet18_stem.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn a_network_loaded_from_a_training_checkpoint_matches_pytorch() {
    let weights = Weights::open(golden("pth/checkpoint.pth")).unwrap();
    let net = ResNetStem::from_weights(&weights, &LoadOptions::default()).unwrap();
    let (x, want) = input_and_output("resnet18_stem.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn a_networks_load_errors_name_renamed_keys_by_both_names_and_rules_apply_in_order() {
    let weights = Weights::open(golden("pth/state_dict.pth")).unwrap();
    let renamed = LoadOptions::default().rename("bn1", "norm");
    let err = ResNetStem::from_weights(&weights, &renamed).unwrap_err();
    let LoadError::Problems { problems, .. } = &err else {
        panic!("{err}")
    };
    // Every bn1 key is renamed away from the network's name: 4 missing, 4 unexpected.
    assert_eq!(problems.len(), 8, "{err}");
    assert!(
        err.to_string().contains(
            "unexpected `norm.weight`: the network has no parameter of this name (the file's \
             `bn1.weight`, renamed)"
        ),
        "{err}"
    );
    // The second rule sees what the first gave, so together they change nothing.
    let back = LoadOptions::default()
        .rename("bn1", "norm")
        .rename("norm", "bn1");
    assert!(ResNetStem::from_weights(&weights, &back).is_ok());
}

#[test]
fn a_forbidden_pickle_is_refused_by_the_networks_loader_too() {
    let err = ResNetStem::load_safetensors(golden("pth/forbidden.pth")).unwrap_err();
    assert!(
        matches!(&err, LoadError::ForbiddenGlobal { global, .. } if global == "posix.system"),
        "{err}"
    );
}
