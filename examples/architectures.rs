//! The seed's architecture table, computed from the declarations in `stride::zoo`: for each
//! network, the stride of its first layer, how it downsamples (every layer with a stride above
//! 1, by kind), its parameters and multiply-adds at 224x224 (LeNet-5 and the All-CNN pair at
//! their 32x32), and the receptive field and jump of its last spatial layer. Nothing in the
//! table is typed in: each figure comes from the network's graph and summary.
//!
//! ```text
//! cargo run --release --example architectures
//! ```

use stride::runtime::graph::{Graph, Op};
use stride::runtime::summary::SummaryAt;
use stride::zoo::*;

fn main() -> Result<(), stride::runtime::Error> {
    println!(
        "| network | first-layer stride | downsampling (layers of stride 2 or more) | parameters | MACs | last spatial layer: receptive field, jump |"
    );
    println!("|---|---:|---|---:|---:|---|");
    macro_rules! row {
        ($net:ty, $name:literal) => {
            row!($net, $name, 224)
        };
        ($net:ty, $name:literal, $size:expr) => {
            print_row(
                $name,
                &<$net>::GRAPH,
                <$net>::PARAMS,
                &<$net>::summary_at($size, $size)?,
                $size,
            )
        };
    }
    row!(LeNet5, "LeNet-5", 32);
    row!(AlexNet, "AlexNet");
    row!(Vgg16, "VGG-16");
    row!(GoogLeNet, "GoogLeNet");
    row!(ResNet50, "ResNet-50");
    row!(DenseNet121, "DenseNet-121");
    row!(MobileNetV2, "MobileNetV2");
    row!(MobileNetV3Small, "MobileNetV3-Small");
    row!(EfficientNetB0, "EfficientNet-B0");
    row!(ConvNeXtTiny, "ConvNeXt-Tiny");
    row!(ModelC, "model C (pooled)", 32);
    row!(AllCnnC, "All-CNN-C", 32);
    Ok(())
}

fn print_row(name: &str, graph: &Graph, params: u64, summary: &SummaryAt, size: usize) {
    let first = graph
        .layers
        .first()
        .and_then(|l| stride_of(l.op))
        .unwrap_or(1);
    let last_spatial = summary
        .layers
        .iter()
        .rev()
        .find_map(|l| Some((l.info.receptive_field?, l.info.jump?)));
    let field = match last_spatial {
        Some(([fh, fw], [jh, jw])) => format!("{}, jump {}", pair(fh, fw), pair(jh, jw)),
        None => "-".to_string(),
    };
    println!(
        "| {name} | {first} | {} | {} | {} at {size}x{size} | {field} |",
        downsampling(graph),
        millions(params),
        macs(summary.macs),
    );
}

/// A layer's stride, for a convolution or a pool.
fn stride_of(op: Op) -> Option<usize> {
    match op {
        Op::Conv2d(p) => Some(p.stride.h()),
        Op::MaxPool2d(p) => Some(p.stride.h()),
        Op::AvgPool2d(p) => Some(p.stride.h()),
        _ => None,
    }
}

/// Every layer that strides by 2 or more, counted by kind: `conv 3x3/2 x3, max pool 3x3/2`.
fn downsampling(graph: &Graph) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for layer in graph.layers {
        let Some(stride) = stride_of(layer.op).filter(|&s| s >= 2) else {
            continue;
        };
        let kind = match layer.op {
            Op::Conv2d(p) => {
                let shape = layer.tensors[0].shape;
                let kernel = pair(shape[2], shape[3]);
                let depthwise = p.groups > 1 && shape[1] == 1;
                let what = if depthwise { "depthwise conv" } else { "conv" };
                format!("{what} {kernel}/{stride}")
            }
            Op::MaxPool2d(p) => format!("max pool {}/{stride}", pair(p.kernel.h(), p.kernel.w())),
            Op::AvgPool2d(p) => format!("avg pool {}/{stride}", pair(p.kernel.h(), p.kernel.w())),
            _ => continue,
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let parts: Vec<String> = kinds
        .into_iter()
        .map(|(kind, n)| if n > 1 { format!("{kind} x{n}") } else { kind })
        .collect();
    parts.join(", ")
}

fn pair(h: usize, w: usize) -> String {
    format!("{h}x{w}")
}

fn millions(n: u64) -> String {
    format!("{:.2} M", n as f64 / 1e6)
}

fn macs(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.3} G", n as f64 / 1e9)
    } else {
        format!("{:.1} M", n as f64 / 1e6)
    }
}
