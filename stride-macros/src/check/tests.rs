use super::*;
use crate::model::{Plan, Shape};

fn plan_of(source: &str) -> syn::Result<Plan> {
    let checked = check(syn::parse_str(source)?);
    checked.errors?;
    Ok(checked.plans.into_iter().next().expect("a network"))
}

fn errors(source: &str) -> Vec<String> {
    match plan_of(source) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn resnet_stem_resolves_to_the_torchvision_shapes_and_counts() {
    let plan = plan_of(
        "pub struct Stem: [3, 224, 224] {
                conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
                bn1: batch_norm2d(),
                relu: relu,
                maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
            }",
    )
    .unwrap();
    let outputs: Vec<Shape> = plan.layers.iter().map(|l| l.output).collect();
    assert_eq!(outputs[0], Shape::Map([64, 112, 112]));
    assert_eq!(plan.output, Shape::Map([64, 56, 56]));
    assert_eq!(plan.params, 9_408 + 128);
    assert_eq!(plan.macs, 118_013_952);
    let field = plan.field.unwrap();
    assert_eq!((field[0].size, field[0].jump), (11, 4));
}

#[test]
fn an_output_below_one_shows_the_arithmetic_and_a_padding_that_fixes_it() {
    let errors = errors("struct N: [1, 4, 4] { conv3: conv2d(8, kernel = 5) }");
    assert_eq!(
        errors,
        [
            "`conv3`: output height is 0: (4 + 2*0 - 1*(5-1) - 1) / 1 + 1 = 0; the kernel (5) \
              is larger than the padded input (4); padding = 1 would give 2"
        ]
    );
}

#[test]
fn an_error_does_not_cascade_into_later_layers() {
    let errors = errors(
        "struct N: [1, 4, 4] {
                a: conv2d(8, kernel = 5),
                b: conv2d(16 => 8, kernel = 3),
                c: conv2d(8, kernel = 0),
            }",
    );
    // `b` states 16 input channels, but `a` failed, so that is not checked; `c`'s zero
    // kernel is wrong whatever its input.
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[1].contains("`kernel` must be at least 1"),
        "{errors:#?}"
    );
}

#[test]
fn a_custom_layer_keeps_its_input_shape_or_takes_the_stated_channels_and_is_never_fused() {
    let plan = plan_of(
        "pub struct N: [3, 8, 8] {
                conv: conv2d(16, kernel = 3, padding = 1),
                same: custom(path::Shuffle<4>),
                bn: batch_norm2d(),
                wide: custom(Wide, channels = 32),
                pool: max_pool2d(2),
            }",
    )
    .unwrap();
    let outputs: Vec<Shape> = plan.layers.iter().map(|l| l.output).collect();
    assert_eq!(outputs[1], Shape::Map([16, 8, 8]));
    assert_eq!(outputs[3], Shape::Map([32, 8, 8]));
    assert_eq!(plan.output, Shape::Map([32, 4, 4]));
    let customs: Vec<([usize; 3], [usize; 3], String)> = plan
        .layers
        .iter()
        .filter_map(|l| l.custom.as_ref())
        .map(|c| (c.input, c.output, c.type_text()))
        .collect();
    assert_eq!(
        customs,
        [
            ([16, 8, 8], [16, 8, 8], "path::Shuffle<4>".to_string()),
            ([16, 8, 8], [32, 8, 8], "Wide".to_string())
        ]
    );
    // The batch norm after a custom layer folds into no convolution.
    assert!(plan.groups.is_empty());
    assert!(
        plan.field.is_none(),
        "the receptive field ends at a custom layer"
    );
}
