//! Prints the summary of torchvision's full-width ResNet-50 from `stride::zoo`, at 224x224.
//!
//! ```text
//! cargo run --release --example resnet50_summary
//! ```

fn main() -> Result<(), stride::runtime::Error> {
    println!("{}", stride::zoo::ResNet50::summary_at(224, 224)?);
    Ok(())
}
