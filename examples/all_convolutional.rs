//! "Striving for Simplicity: The All Convolutional Net" (Springenberg et al., 2015), side by
//! side: model C, which downsamples with 3x3 max pools of stride 2, and All-CNN-C, which puts
//! a learned 3x3 convolution of stride 2 in each pool's place. For each, at 32x32: the
//! parameters and multiply-adds, the receptive field and jump after each layer, and the time
//! of a forward pass (batch 1 and 64, seeded weights, fused). Every figure comes from the two
//! declarations in `stride::zoo`, or is measured here.
//!
//! ```text
//! cargo run --release --example all_convolutional
//! ```

mod common;

use stride::ndarray::Array4;
use stride::runtime::summary::SummaryAt;
use stride::zoo::{AllCnnC, ModelC};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pooled = ModelC::summary_at(32, 32)?;
    let strided = AllCnnC::summary_at(32, 32)?;
    println!("| | model C (max pool) | All-CNN-C (strided conv) |");
    println!("|---|---:|---:|");
    println!(
        "| parameters | {} | {} |",
        thousands(ModelC::PARAMS),
        thousands(AllCnnC::PARAMS)
    );
    println!(
        "| MACs at 32x32 | {} | {} |",
        thousands(pooled.macs),
        thousands(strided.macs)
    );
    let (pooled_net, strided_net) = (ModelC::init(0), AllCnnC::init(0));
    for batch in [1, 64] {
        let x = Array4::from_shape_fn((batch, 3, 32, 32), |(n, c, h, w)| {
            ((n + c) as f32 * 0.3 + h as f32 * 0.1 - w as f32 * 0.07).sin()
        });
        let a = common::median_time(20, || pooled_net.forward(x.view()));
        let b = common::median_time(20, || strided_net.forward(x.view()));
        println!(
            "| forward, batch {batch}, {} threads | {:.2} ms | {:.2} ms |",
            rayon::current_num_threads(),
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
    }
    println!();
    println!("| layer | model C: output, receptive field | All-CNN-C: output, receptive field |");
    println!("|---|---|---|");
    for name in [
        "conv1", "conv2", "pool1", "conv3", "conv4", "conv5", "pool2", "conv6", "conv7", "conv8",
        "conv9",
    ] {
        let (a, b) = (cell(&pooled, name), cell(&strided, name));
        if a != "-" || b != "-" {
            println!("| {name} | {a} | {b} |");
        }
    }
    Ok(())
}

/// Layer `name`'s output shape and receptive field (with its jump), or `-` if the network has
/// no such layer.
fn cell(summary: &SummaryAt, name: &str) -> String {
    let Some(row) = summary.layers.iter().find(|l| l.info.name == name) else {
        return "-".into();
    };
    let [c, h, w] = [row.output[0], row.output[1], row.output[2]];
    match (row.info.receptive_field, row.info.jump) {
        (Some([f, _]), Some([j, _])) => format!("[{c}, {h}, {w}], {f}x{f} jump {j}"),
        _ => format!("[{c}, {h}, {w}]"),
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}
