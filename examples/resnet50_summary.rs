//! Prints the summary of torchvision's full-width ResNet-50, declared with `network!` in
//! `examples/models`. Also the example whose build time the README reports against
//! `plain_ops`, which uses no macro.
//!
//! ```text
//! cargo run --release --example resnet50_summary
//! ```

mod models;

fn main() {
    println!("{}", models::ResNet50::SUMMARY);
}
