stride::network! {
    pub struct Stem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
    }
}

stride::network! {
    /// A classifier on the stem, declared separately: the stem's weights sit under `stem.`.
    pub struct Classifier: [3, 224, 224] {
        stem: Stem => [64, 56, 56],
        gap: global_avg_pool2d,
        flatten: flatten,
        fc: linear(64 => 10),
    }
}

fn main() {
    assert_eq!(Classifier::PARAMS, Stem::PARAMS + 64 * 10 + 10);
    assert_eq!(Classifier::MACS, Stem::MACS + 640);
    let net = Classifier::init(1);
    let x = stride::ndarray::Array4::from_elem((2, 3, 224, 224), 0.5f32);
    let y = net.forward(x.view()).unwrap();
    assert_eq!(y.dim(), (2, 10));

    let path = std::env::temp_dir().join(format!("stride-nested-{}.safetensors", std::process::id()));
    net.save_safetensors(&path).unwrap();
    let keys: Vec<String> = stride::runtime::weights::Weights::open(&path).unwrap().keys().map(String::from).collect();
    assert!(keys.contains(&"stem.conv1.weight".to_string()), "{keys:?}");
    assert!(keys.contains(&"fc.bias".to_string()), "{keys:?}");
    let again = Classifier::load_safetensors(&path).unwrap();
    assert_eq!(again.forward(x.view()).unwrap(), y);
}
