//! Writes the picture of torchvision's ResNet-18 (from `stride::zoo`) and of one of
//! GoogLeNet's inception blocks, as SVG and as Graphviz DOT, into a directory (by default
//! `target/pictures`).
//!
//! ```text
//! cargo run --release --example picture [-- DIR]
//! dot -Tpng target/pictures/resnet18.dot -o resnet18.png   # if you prefer Graphviz's layout
//! ```

use std::path::PathBuf;

use stride::network;
use stride::runtime::summary::Picture;

network! {
    use ::stride::zoo::Inception;

    /// GoogLeNet's `inception3a` on its 28x28 input: four branches joined along channels.
    pub struct Inception3a: [192, 28, 28] {
        inception3a: Inception(64, 96, 128, 16, 32, 32),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/pictures".into()),
    );
    std::fs::create_dir_all(&dir)?;
    // ResNet-18 takes many sizes; its picture at the size torchvision trained it at.
    let pictures: [(&str, Picture); 2] = [
        (
            "resnet18",
            stride::zoo::ResNet18::summary_at(224, 224)?.picture(),
        ),
        ("inception3a", Inception3a::SUMMARY.picture()),
    ];
    for (name, picture) in pictures {
        for (extension, text) in [("svg", picture.svg()), ("dot", picture.dot())] {
            let path = dir.join(format!("{name}.{extension}"));
            std::fs::write(&path, text)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
