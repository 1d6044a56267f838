//! The seed's architecture table as networks to import, as `torchvision.models` is: every
//! model declared with the public [`network!`](crate::network) macro, under torchvision's
//! `state_dict` keys, so a torchvision checkpoint saved as safetensors loads strictly.
//!
//! Behind the `zoo` cargo feature (`stride = { version = "…", features = ["zoo"] }`), so a
//! build that does not name it compiles none of it.
//!
//! | network | module | input | parameters |
//! |---|---|---|---:|
//! | [`LeNet5`] | [`classic`] | `[1, 32, 32]` | 61,706 |
//! | [`AlexNet`] | [`classic`] | `[3, H, W]` | 61,100,840 |
//! | [`Vgg11`], [`Vgg11Bn`], [`Vgg16`], [`Vgg16Bn`] | [`vgg`] | `[3, H, W]` | 132,863,336 (VGG-11) |
//! | [`AllCnnC`], [`ModelC`] | [`classic`] | `[3, H, W]` | 1,369,738 and 954,730 |
//! | [`GoogLeNet`] | [`googlenet`] | `[3, H, W]` | 6,624,904 |
//! | [`ResNet18`], [`ResNet34`], [`ResNet50`], [`ResNet101`] | [`resnet`] | `[3, H, W]` | 11,689,512 (ResNet-18) |
//! | [`DenseNet121`] | [`densenet`] | `[3, H, W]` | 7,978,856 |
//! | [`MobileNetV2`], [`MobileNetV3Small`] | [`mobilenet`] | `[3, H, W]` | 3,504,872 and 2,542,856 |
//! | [`EfficientNetB0`] | [`efficientnet`] | `[3, H, W]` | 5,288,548 |
//! | [`ConvNeXtTiny`] | [`convnext`] | `[3, H, W]` | 28,589,128 |
//!
//! Each takes any input size its layers allow (`MIN_INPUT`, `INPUT_MULTIPLE`), except LeNet-5,
//! whose first fully connected layer fixes it; torchvision's weights were trained at 224x224
//! (LeNet-5 and the All-CNN models at 32x32). The parameter counts are torchvision's, exactly
//! (`tests/zoo_models.rs`), and the MACs at 224x224 agree with torchvision's published
//! "GFLOPS" (which count multiply-adds of the convolutions and linear layers, as `MACS` does;
//! the squeeze-excitation multiply, the layer scale and the norms are not counted by either).
//!
//! The blocks are public too, for networks of your own: `use ::stride::zoo::Bottleneck;`
//! inside a `network!` brings torchvision's bottleneck in.

pub mod blocks;
pub mod classic;
pub mod convnext;
pub mod densenet;
pub mod efficientnet;
pub mod googlenet;
pub mod mobilenet;
pub mod resnet;
pub mod vgg;

pub use classic::{AlexNet, AllCnnC, LeNet5, ModelC};
pub use convnext::ConvNeXtTiny;
pub use densenet::DenseNet121;
pub use efficientnet::EfficientNetB0;
pub use googlenet::GoogLeNet;
pub use mobilenet::{MobileNetV2, MobileNetV3Small};
pub use resnet::{ResNet18, ResNet34, ResNet50, ResNet101};
pub use vgg::{Vgg11, Vgg11Bn, Vgg16, Vgg16Bn};
