stride::network! {
    /// `#[key]` renames one layer's weights; the others keep their names.
    pub struct Head: [512, 7, 7] {
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        #[key = "classifier.6"]
        fc: linear(512 => 10),
    }
}

fn main() {
    let names: Vec<&str> = Head::SUMMARY.layers.iter().map(|l| l.name).collect();
    assert_eq!(names, ["avgpool", "flatten", "classifier.6"]);
    let head = Head::init(0);
    let path = std::env::temp_dir().join(format!("stride-key-overrides-{}.safetensors", std::process::id()));
    head.save_safetensors(&path).unwrap();
    let weights = stride::runtime::weights::Weights::open(&path).unwrap();
    let keys: Vec<&str> = weights.keys().collect();
    assert_eq!(keys, ["classifier.6.bias", "classifier.6.weight"]);
}
