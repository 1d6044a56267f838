//! The walk that writes a network as ONNX nodes: the same walk over the graph's nodes as the
//! executor's (`graph/run.rs`), with each layer written as the nodes ONNX has for it.

use std::path::Path;

use prost::Message;
use stride_geometry::{Padding, adaptive_bin, run_flow};

use super::builder::{Builder, Dim, float, float_value, int, ints, string};
use super::options::{ExportError, ExportMode, ExportOptions, MAX_OPSET, MIN_OPSET, OnnxSummary};
use super::proto::{GraphProto, ModelProto, OperatorSetIdProto};
use crate::graph::{FusedLayer, Graph, Group, Layer, Model, Module, Node, Op, Slot};
use crate::ops::{
    Activation, AvgPool2dParams, Conv2d, ConvTranspose2d, MaxPool2dParams, UpsampleMode,
    UpsampleParams, UpsampleTarget,
};
use crate::{Hw, Padding2d};

/// The ONNX intermediate representation version the files declare: IR 8, the one that goes with
/// opsets 15 to 17.
const IR_VERSION: i64 = 8;

/// `module` as an ONNX model.
fn model(module: &dyn Module, options: &ExportOptions) -> Result<ModelProto, ExportError> {
    if !(MIN_OPSET..=MAX_OPSET).contains(&options.opset) {
        return Err(ExportError::Opset {
            opset: options.opset,
        });
    }
    let graph = module.graph();
    let generic = graph.sizes.map(|s| s.is_generic());
    let size = match options.input_size {
        Some(size) => Some(size),
        None if !generic.contains(&true) => Some([graph.input[1], graph.input[2]]),
        None => None,
    };
    if let Some(size) = size {
        if let Err(error) = graph.takes(size) {
            return Err(ExportError::InputSize {
                network: graph.name,
                message: graph.size_text(size, &error).as_str().to_string(),
            });
        }
    }
    let mut exporter = Exporter {
        b: Builder::default(),
        options,
    };
    exporter.b.reserve("input");
    let output = exporter.network(module, "", "input".to_string(), size)?;
    exporter.b.rename(&output, "output");

    let spatial = |axis: usize, name: &'static str| match size {
        Some(s) => Dim::Fixed(s[axis]),
        None => Dim::Named(name),
    };
    let input_dims = [
        Dim::Named("batch"),
        Dim::Fixed(graph.input[0]),
        spatial(0, "height"),
        spatial(1, "width"),
    ];
    let output_dims = match (graph.output, size.and_then(|s| graph.output_at(s))) {
        (&[features], _) => vec![Dim::Named("batch"), Dim::Fixed(features)],
        (_, Some([c, h, w])) => vec![
            Dim::Named("batch"),
            Dim::Fixed(c),
            Dim::Fixed(h),
            Dim::Fixed(w),
        ],
        (dims, None) => vec![
            Dim::Named("batch"),
            Dim::Fixed(dims.first().copied().unwrap_or(0)),
            Dim::Named("out_height"),
            Dim::Named("out_width"),
        ],
    };
    let Builder {
        nodes,
        initializers,
        ..
    } = exporter.b;
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: options.opset,
        }],
        producer_name: "stride".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        graph: Some(GraphProto {
            name: graph.name.to_string(),
            node: nodes,
            initializer: initializers,
            input: vec![float_value("input", &input_dims)],
            output: vec![float_value("output", &output_dims)],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    })
}

/// The state of one export.
struct Exporter<'o> {
    b: Builder,
    options: &'o ExportOptions,
}

/// One network being written: its graph and weights, the prefix of its keys, and the input
/// size of each summary row where the size is known.
struct Net<'m> {
    graph: &'static Graph,
    model: &'m Model,
    externals: Vec<&'m dyn Module>,
    prefix: String,
    /// Each row's input height and width.
    rows: Option<Vec<[usize; 2]>>,
}

impl Net<'_> {
    /// The input height and width of `layer`, where the export has a size.
    fn input_size(&self, layer: &Layer) -> Option<[usize; 2]> {
        self.rows
            .as_ref()
            .and_then(|rows| rows.get(layer.row).copied())
    }

    /// The key of layer `index`, with the network's prefix.
    fn key(&self, index: usize) -> String {
        format!("{}{}", self.prefix, self.graph.layers[index].key)
    }
}

impl Exporter<'_> {
    /// `module`'s nodes on the value `x`, its keys under `prefix`; returns its output's name.
    fn network(
        &mut self,
        module: &dyn Module,
        prefix: &str,
        x: String,
        size: Option<[usize; 2]>,
    ) -> Result<String, ExportError> {
        let graph = module.graph();
        let rows = size.map(|size| row_inputs(graph, size));
        let net = Net {
            graph,
            model: module.model(),
            externals: module.externals(),
            prefix: prefix.to_string(),
            rows,
        };
        self.nodes(&net, graph.nodes, x)
    }

    fn nodes(&mut self, net: &Net, nodes: &[Node], mut x: String) -> Result<String, ExportError> {
        for node in nodes {
            x = self.node(net, node, x)?;
        }
        Ok(x)
    }

    fn node(&mut self, net: &Net, node: &Node, x: String) -> Result<String, ExportError> {
        match *node {
            Node::Layer(index) => self.layer(net, index, &x),
            Node::Group(index) => {
                let group = &net.graph.groups[index];
                match self.fused(net, index)? {
                    Some(fused) => self.fused_group(net, group, &fused, &x, None),
                    None => {
                        let mut y = self.layer(net, group.conv, &x)?;
                        for i in group.bn.into_iter().chain(group.activation) {
                            y = self.layer(net, i, &y)?;
                        }
                        Ok(y)
                    }
                }
            }
            Node::Residual {
                main,
                shortcut,
                closing,
            } => {
                let y = self.nodes(net, main, x.clone())?;
                let s = match shortcut {
                    Some(shortcut) => self.nodes(net, shortcut, x)?,
                    None => x,
                };
                let Some(index) = closing else {
                    let name = format!("{}/add", y);
                    return Ok(self.b.node("Add", &name, &[&y, &s], Vec::new()));
                };
                let group = &net.graph.groups[index];
                match self.fused(net, index)? {
                    Some(fused) => self.fused_group(net, group, &fused, &y, Some(&s)),
                    None => {
                        let mut y = self.layer(net, group.conv, &y)?;
                        if let Some(bn) = group.bn {
                            y = self.layer(net, bn, &y)?;
                        }
                        let name = format!("{}/add", net.key(group.conv));
                        let mut y = self.b.node("Add", &name, &[&y, &s], Vec::new());
                        if let Some(activation) = group.activation {
                            y = self.layer(net, activation, &y)?;
                        }
                        Ok(y)
                    }
                }
            }
            Node::Concat(branches) => {
                let outputs = branches
                    .iter()
                    .map(|branch| self.nodes(net, branch, x.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                let inputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
                let name = format!("{x}/concat");
                Ok(self.b.node("Concat", &name, &inputs, vec![int("axis", 1)]))
            }
            Node::Scale(gate) => {
                let g = self.nodes(net, gate, x.clone())?;
                let name = format!("{g}/scale");
                Ok(self.b.node("Mul", &name, &[&x, &g], Vec::new()))
            }
            Node::External(index) => {
                let spec = &net.graph.externals[index];
                let module = net.externals.get(index).ok_or(ExportError::Graph {
                    network: net.graph.name,
                    message: format!("its external network `{}` is missing", spec.key),
                })?;
                let graph = module.graph();
                let size = [graph.input[1], graph.input[2]];
                let prefix = format!("{}{}.", net.prefix, spec.key);
                self.network(*module, &prefix, x, Some(size))
            }
        }
    }

    /// Group `index`'s fused layer, in the fused mode: the model's own if it is fused, else
    /// built from its layers; `None` in the declared mode.
    fn fused(&self, net: &Net, index: usize) -> Result<Option<FusedLayer>, ExportError> {
        if self.options.mode == ExportMode::Declared {
            return Ok(None);
        }
        match net.model.fused(index) {
            Some(fused) => Ok(Some(fused.clone())),
            None => {
                let group = &net.graph.groups[index];
                let fused = net
                    .model
                    .fused_group(group)
                    .map_err(|e| ExportError::Layer {
                        layer: net.key(group.conv),
                        source: Box::new(e),
                    })?;
                Ok(Some(fused))
            }
        }
    }

    /// A fused group: its convolution with the batch norm folded in, the activation it takes
    /// in, then the residual `add` (for a group that closes one) and the activation after.
    fn fused_group(
        &mut self,
        net: &Net,
        group: &Group,
        fused: &FusedLayer,
        x: &str,
        add: Option<&str>,
    ) -> Result<String, ExportError> {
        let layer = &net.graph.layers[group.conv];
        let key = net.key(group.conv);
        let input = net.input_size(layer);
        let (mut y, after) = match fused {
            FusedLayer::Conv2d(f) => (self.conv(&key, f.layer(), x, input)?, f.after()),
            FusedLayer::ConvTranspose2d(f) => (self.conv_transpose(&key, f.layer(), x)?, f.after()),
        };
        if let Some(s) = add {
            y = self
                .b
                .node("Add", &format!("{key}/add"), &[&y, s], Vec::new());
        }
        let name = group
            .activation
            .map_or_else(|| format!("{key}/act"), |i| net.key(i));
        self.activation(after, &y, &name)
    }

    /// One layer on the value `x`.
    fn layer(&mut self, net: &Net, index: usize, x: &str) -> Result<String, ExportError> {
        let layer = &net.graph.layers[index];
        let key = net.key(index);
        let input = net.input_size(layer);
        let slot = net.model.slot(index);
        Ok(match (layer.op, slot) {
            (Op::Conv2d(_), Slot::Conv2d(conv)) => self.conv(&key, conv, x, input)?,
            (Op::ConvTranspose2d(_), Slot::ConvTranspose2d(conv)) => {
                self.conv_transpose(&key, conv, x)?
            }
            (Op::BatchNorm2d { .. }, Slot::BatchNorm2d(bn)) => {
                let c = bn.channels();
                let scale = match bn.weight() {
                    Some(w) => self
                        .b
                        .floats(&format!("{key}.weight"), &[c], w.iter().copied()),
                    None => self.b.floats(&format!("{key}.weight"), &[c], vec![1.0; c]),
                };
                let bias = match bn.bias() {
                    Some(b) => self
                        .b
                        .floats(&format!("{key}.bias"), &[c], b.iter().copied()),
                    None => self.b.floats(&format!("{key}.bias"), &[c], vec![0.0; c]),
                };
                let mean = bn.running_mean();
                let var = bn.running_var();
                let mean =
                    self.b
                        .floats(&format!("{key}.running_mean"), &[c], mean.iter().copied());
                let var = self
                    .b
                    .floats(&format!("{key}.running_var"), &[c], var.iter().copied());
                let attrs = vec![float("epsilon", bn.eps())];
                self.b.node(
                    "BatchNormalization",
                    &key,
                    &[x, &scale, &bias, &mean, &var],
                    attrs,
                )
            }
            (Op::LayerNorm2d { .. }, Slot::LayerNorm2d(norm)) => {
                self.needs(&key, "LayerNormalization", 17)?;
                let c = norm.channels();
                let w = self.b.floats(
                    &format!("{key}.weight"),
                    &[c],
                    norm.weight().iter().copied(),
                );
                let b = self
                    .b
                    .floats(&format!("{key}.bias"), &[c], norm.bias().iter().copied());
                let last = self.b.node(
                    "Transpose",
                    &format!("{key}/channels_last"),
                    &[x],
                    vec![ints("perm", &[0, 2, 3, 1])],
                );
                let attrs = vec![int("axis", -1), float("epsilon", norm.eps())];
                let y = self
                    .b
                    .node("LayerNormalization", &key, &[&last, &w, &b], attrs);
                self.b.node(
                    "Transpose",
                    &format!("{key}/channels_first"),
                    &[&y],
                    vec![ints("perm", &[0, 3, 1, 2])],
                )
            }
            (Op::LayerScale, Slot::LayerScale(scale)) => {
                let c = scale.channels();
                let s = self
                    .b
                    .floats(&key, &[c, 1, 1], scale.scale().iter().copied());
                self.b
                    .node("Mul", &format!("{key}/mul"), &[x, &s], Vec::new())
            }
            (Op::Linear, Slot::Linear(linear)) => {
                let weight = linear.weight().into_dyn();
                let inputs = self.weight_and_bias(&key, x, weight, linear.bias());
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                self.b.node("Gemm", &key, &inputs, vec![int("transB", 1)])
            }
            (Op::MaxPool2d(p), _) => self.max_pool(&key, &p, x, input)?,
            (Op::AvgPool2d(p), _) => self.avg_pool(&key, &p, x, input)?,
            (Op::AdaptiveAvgPool2d(size), _) => self.adaptive_avg_pool(&key, size, x, input)?,
            (Op::Activation(activation), _) => self.activation(activation, x, &key)?,
            (Op::Upsample(p), _) => self.upsample(&key, &p, x),
            (Op::Flatten, _) => self.b.node("Flatten", &key, &[x], vec![int("axis", 1)]),
            (Op::Dropout | Op::Identity, _) => x.to_string(),
            (Op::Custom(op), _) => {
                return Err(ExportError::Unsupported {
                    layer: key,
                    message: format!(
                        "it is a custom layer (`{}`), whose computation is Rust code the export \
                         cannot write as ONNX operators",
                        op.kind
                    ),
                });
            }
            (op, slot) => {
                return Err(ExportError::Graph {
                    network: net.graph.name,
                    message: format!("layer `{key}` is a {op:?} but holds {slot:?}"),
                });
            }
        })
    }

    /// Refuses an opset below `needs`, which `op` needs.
    fn needs(&self, layer: &str, op: &'static str, needs: i64) -> Result<(), ExportError> {
        if self.options.opset < needs {
            return Err(ExportError::OpsetTooLow {
                layer: layer.to_string(),
                op,
                needs,
                opset: self.options.opset,
            });
        }
        Ok(())
    }

    /// A node's inputs: `x`, then `weight` and `bias` (if any) as initializers under
    /// `{key}.weight` and `{key}.bias`.
    fn weight_and_bias(
        &mut self,
        key: &str,
        x: &str,
        weight: ndarray::ArrayViewD<f32>,
        bias: Option<ndarray::ArrayView1<f32>>,
    ) -> Vec<String> {
        let w = self.b.floats(
            &format!("{key}.weight"),
            weight.shape(),
            weight.iter().copied(),
        );
        let mut inputs = vec![x.to_string(), w];
        if let Some(bias) = bias {
            inputs.push(
                self.b
                    .floats(&format!("{key}.bias"), &[bias.len()], bias.iter().copied()),
            );
        }
        inputs
    }

    fn conv(
        &mut self,
        key: &str,
        conv: &Conv2d,
        x: &str,
        input: Option<[usize; 2]>,
    ) -> Result<String, ExportError> {
        let shape = conv.weight().shape().to_vec();
        let p = conv.params();
        let inputs = self.weight_and_bias(key, x, conv.weight().into_dyn(), conv.bias());
        let kernel = Hw([shape[2], shape[3]]);
        let mut attrs = vec![
            ints("kernel_shape", &hw(kernel)),
            ints("strides", &hw(p.stride)),
            ints("dilations", &hw(p.dilation)),
            int("group", p.groups as i64),
        ];
        attrs.push(self.pads(key, p.padding, input, kernel, p.stride, p.dilation)?);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let y = self.b.node("Conv", key, &inputs, attrs);
        self.activation(conv.activation(), &y, &format!("{key}/act"))
    }

    fn conv_transpose(
        &mut self,
        key: &str,
        conv: &ConvTranspose2d,
        x: &str,
    ) -> Result<String, ExportError> {
        let shape = conv.weight().shape().to_vec();
        let p = conv.params();
        let inputs = self.weight_and_bias(key, x, conv.weight().into_dyn(), conv.bias());
        let [ph, pw] = p.padding.0.map(|v| v as i64);
        let attrs = vec![
            ints("kernel_shape", &[shape[2] as i64, shape[3] as i64]),
            ints("strides", &hw(p.stride)),
            ints("dilations", &hw(p.dilation)),
            ints("output_padding", &hw(p.output_padding)),
            ints("pads", &[ph, pw, ph, pw]),
            int("group", p.groups as i64),
        ];
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let y = self.b.node("ConvTranspose", key, &inputs, attrs);
        self.activation(conv.activation(), &y, &format!("{key}/act"))
    }

    /// The `pads` (or, for a mode on an input of unknown size, `auto_pad`) attribute of a
    /// window layer: explicit pads `[top, left, bottom, right]` wherever the size is known.
    fn pads(
        &self,
        layer: &str,
        padding: Padding2d,
        input: Option<[usize; 2]>,
        kernel: Hw,
        stride: Hw,
        dilation: Hw,
    ) -> Result<super::proto::AttributeProto, ExportError> {
        let explicit = |pads: [(usize, usize); 2]| {
            let [(t, b), (l, r)] = pads.map(|(a, b)| (a as i64, b as i64));
            ints("pads", &[t, l, b, r])
        };
        if let [
            Padding::Explicit { begin: t, end: b },
            Padding::Explicit { begin: l, end: r },
        ] = padding.0
        {
            return Ok(explicit([(t, b), (l, r)]));
        }
        if let Some(input) = input {
            let [h, w] = padding
                .resolve("onnx export", input, kernel, stride, dilation)
                .map_err(|e| ExportError::Layer {
                    layer: layer.to_string(),
                    source: Box::new(e),
                })?;
            return Ok(explicit([(h.begin, h.end), (w.begin, w.end)]));
        }
        // A mode on an input whose size the export leaves open: ONNX resolves it at run time.
        let mode = match padding.0 {
            [Padding::Valid, Padding::Valid] => "VALID",
            [
                Padding::Same | Padding::SameUpper,
                Padding::Same | Padding::SameUpper,
            ] => "SAME_UPPER",
            [Padding::SameLower, Padding::SameLower] => "SAME_LOWER",
            _ => {
                return Err(ExportError::NeedsInputSize {
                    layer: layer.to_string(),
                    why: "its padding differs between the height and the width and needs a \
                          size to be written as pads",
                });
            }
        };
        Ok(string("auto_pad", mode))
    }

    fn max_pool(
        &mut self,
        key: &str,
        p: &MaxPool2dParams,
        x: &str,
        input: Option<[usize; 2]>,
    ) -> Result<String, ExportError> {
        let attrs = vec![
            ints("kernel_shape", &hw(p.kernel)),
            ints("strides", &hw(p.stride)),
            ints("dilations", &hw(p.dilation)),
            int("ceil_mode", i64::from(p.ceil_mode)),
            self.pads(key, p.padding, input, p.kernel, p.stride, p.dilation)?,
        ];
        Ok(self.b.node("MaxPool", key, &[x], attrs))
    }

    fn avg_pool(
        &mut self,
        key: &str,
        p: &AvgPool2dParams,
        x: &str,
        input: Option<[usize; 2]>,
    ) -> Result<String, ExportError> {
        let ones = Hw([1, 1]);
        let mut attrs = vec![
            ints("kernel_shape", &hw(p.kernel)),
            ints("strides", &hw(p.stride)),
            int("ceil_mode", i64::from(p.ceil_mode)),
            int(
                "count_include_pad",
                i64::from(p.count_include_pad || p.divisor_override.is_some()),
            ),
            self.pads(key, p.padding, input, p.kernel, p.stride, ones)?,
        ];
        let Some(divisor) = p.divisor_override else {
            return Ok(self
                .b
                .node("AveragePool", key, &[x], std::mem::take(&mut attrs)));
        };
        // A fixed divisor: the window's mean over its whole area, rescaled. Windows that a
        // ceil_mode pool lets run past the padding would be averaged over fewer values.
        if p.ceil_mode {
            return Err(ExportError::Unsupported {
                layer: key.to_string(),
                message: "ONNX's AveragePool has no fixed divisor, and with ceil_mode its edge \
                          windows divide by their clipped area"
                    .into(),
            });
        }
        let mean = self
            .b
            .node("AveragePool", &format!("{key}/mean"), &[x], attrs);
        let area = (p.kernel.h() * p.kernel.w()) as f32;
        let factor = self
            .b
            .scalar(&format!("{key}/area_over_divisor"), area / divisor as f32);
        Ok(self.b.node("Mul", key, &[&mean, &factor], Vec::new()))
    }

    /// Adaptive average pooling: a global pool to 1x1, an average pool where the bins tile the
    /// input evenly, else a mean over each bin (`Slice`, `ReduceMean`), joined back.
    fn adaptive_avg_pool(
        &mut self,
        key: &str,
        out: Hw,
        x: &str,
        input: Option<[usize; 2]>,
    ) -> Result<String, ExportError> {
        if out == Hw([1, 1]) {
            return Ok(self.b.node("GlobalAveragePool", key, &[x], Vec::new()));
        }
        let Some([h, w]) = input else {
            return Err(ExportError::NeedsInputSize {
                layer: key.to_string(),
                why: "its bins depend on the input size, which an export for any size leaves \
                      open",
            });
        };
        if h % out.h() == 0 && w % out.w() == 0 {
            let kernel = [(h / out.h()) as i64, (w / out.w()) as i64];
            let attrs = vec![
                ints("kernel_shape", &kernel),
                ints("strides", &kernel),
                ints("pads", &[0, 0, 0, 0]),
            ];
            return Ok(self.b.node("AveragePool", key, &[x], attrs));
        }
        // Bins of unequal sizes, as PyTorch draws them: one mean per bin.
        let axes = self.b.ints(&format!("{key}/axes"), &[2, 3]);
        let mut rows = Vec::with_capacity(out.h());
        for i in 0..out.h() {
            let (top, bottom) = adaptive_bin(h, out.h(), i);
            let mut cells = Vec::with_capacity(out.w());
            for j in 0..out.w() {
                let (left, right) = adaptive_bin(w, out.w(), j);
                let starts = self
                    .b
                    .ints(&format!("{key}/starts"), &[top as i64, left as i64]);
                let ends = self
                    .b
                    .ints(&format!("{key}/ends"), &[bottom as i64, right as i64]);
                let bin = self.b.node(
                    "Slice",
                    &format!("{key}/bin"),
                    &[x, &starts, &ends, &axes],
                    Vec::new(),
                );
                let attrs = vec![ints("axes", &[2, 3]), int("keepdims", 1)];
                cells.push(
                    self.b
                        .node("ReduceMean", &format!("{key}/mean"), &[&bin], attrs),
                );
            }
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            rows.push(self.b.node(
                "Concat",
                &format!("{key}/row"),
                &cells,
                vec![int("axis", 3)],
            ));
        }
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        Ok(self.b.node("Concat", key, &rows, vec![int("axis", 2)]))
    }

    fn upsample(&mut self, key: &str, p: &UpsampleParams, x: &str) -> String {
        let mut attrs = match p.mode {
            UpsampleMode::Nearest => vec![
                string("mode", "nearest"),
                string("coordinate_transformation_mode", "asymmetric"),
                string("nearest_mode", "floor"),
            ],
            UpsampleMode::Bilinear => vec![
                string("mode", "linear"),
                string("coordinate_transformation_mode", "half_pixel"),
            ],
        };
        let inputs = match p.target {
            UpsampleTarget::ScaleFactor(s) => {
                let scales = [1.0, 1.0, s.h() as f32, s.w() as f32];
                let scales = self.b.floats(&format!("{key}/scales"), &[4], scales);
                vec![x.to_string(), String::new(), scales]
            }
            UpsampleTarget::Size(s) => {
                attrs.push(ints("axes", &[2, 3]));
                let sizes = self
                    .b
                    .ints(&format!("{key}/sizes"), &[s.h() as i64, s.w() as i64]);
                vec![x.to_string(), String::new(), String::new(), sizes]
            }
        };
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.b.node("Resize", key, &inputs, attrs)
    }

    /// `activation` of the value `x`, as ONNX nodes named after `name`.
    fn activation(
        &mut self,
        activation: Activation,
        x: &str,
        name: &str,
    ) -> Result<String, ExportError> {
        Ok(match activation {
            Activation::Identity => x.to_string(),
            Activation::Relu => self.b.node("Relu", name, &[x], Vec::new()),
            Activation::Relu6 => {
                let low = self.b.scalar("zero", 0.0);
                let high = self.b.scalar("six", 6.0);
                self.b.node("Clip", name, &[x, &low, &high], Vec::new())
            }
            Activation::LeakyRelu(slope) => {
                self.b
                    .node("LeakyRelu", name, &[x], vec![float("alpha", slope)])
            }
            Activation::Sigmoid => self.b.node("Sigmoid", name, &[x], Vec::new()),
            Activation::Tanh => self.b.node("Tanh", name, &[x], Vec::new()),
            Activation::Silu => {
                let gate = self
                    .b
                    .node("Sigmoid", &format!("{name}/sigmoid"), &[x], Vec::new());
                self.b.node("Mul", name, &[x, &gate], Vec::new())
            }
            Activation::Gelu => {
                // 0.5 * x * (1 + erf(x / sqrt(2))), the form torch.onnx writes for opset 17.
                let root2 = self.b.scalar("sqrt2", std::f32::consts::SQRT_2);
                let scaled = self
                    .b
                    .node("Div", &format!("{name}/div"), &[x, &root2], Vec::new());
                let erf = self
                    .b
                    .node("Erf", &format!("{name}/erf"), &[&scaled], Vec::new());
                self.half_x_one_plus(x, &erf, name)
            }
            Activation::GeluTanh => {
                // 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
                let c = self.b.scalar("gelu_tanh_c", 0.044_715);
                let k = self
                    .b
                    .scalar("sqrt_2_over_pi", (2.0 / std::f32::consts::PI).sqrt());
                let x2 = self
                    .b
                    .node("Mul", &format!("{name}/x2"), &[x, x], Vec::new());
                let x3 = self
                    .b
                    .node("Mul", &format!("{name}/x3"), &[&x2, x], Vec::new());
                let cx3 = self
                    .b
                    .node("Mul", &format!("{name}/cx3"), &[&x3, &c], Vec::new());
                let inner = self
                    .b
                    .node("Add", &format!("{name}/inner"), &[x, &cx3], Vec::new());
                let arg = self
                    .b
                    .node("Mul", &format!("{name}/arg"), &[&inner, &k], Vec::new());
                let t = self
                    .b
                    .node("Tanh", &format!("{name}/tanh"), &[&arg], Vec::new());
                self.half_x_one_plus(x, &t, name)
            }
            Activation::Hardswish => {
                self.needs(name, "HardSwish", 14)?;
                self.b.node("HardSwish", name, &[x], Vec::new())
            }
            Activation::Hardsigmoid => self.b.node(
                "HardSigmoid",
                name,
                &[x],
                vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)],
            ),
        })
    }
}

impl Exporter<'_> {
    /// `0.5 * x * (1 + t)`: how both GELUs end.
    fn half_x_one_plus(&mut self, x: &str, t: &str, name: &str) -> String {
        let one = self.b.scalar("one", 1.0);
        let half = self.b.scalar("half", 0.5);
        let plus = self
            .b
            .node("Add", &format!("{name}/add"), &[t, &one], Vec::new());
        let times = self
            .b
            .node("Mul", &format!("{name}/mul"), &[x, &plus], Vec::new());
        self.b.node("Mul", name, &[&times, &half], Vec::new())
    }
}

/// `[h, w]` as ONNX's `[h, w]` attribute values.
fn hw(v: Hw) -> [i64; 2] {
    v.0.map(|x| x as i64)
}

/// The input height and width of each summary row of `graph` at `size`, which the graph takes.
fn row_inputs(graph: &Graph, size: [usize; 2]) -> Vec<[usize; 2]> {
    let mut record = [
        vec![[0usize; 2]; graph.rows.len()],
        vec![[0usize; 2]; graph.rows.len()],
    ];
    for axis in 0..2 {
        // The caller checked that the graph takes the size; a refusal leaves rows at 0, which
        // only a hand-made graph could reach.
        let _ = run_flow(graph.flows[axis], size[axis], &mut record[axis]);
    }
    (0..graph.rows.len())
        .map(|row| [record[0][row][0], record[1][row][0]])
        .collect()
}

/// `module` as an encoded ONNX model.
///
/// # Errors
/// An opset outside [`MIN_OPSET`]..=[`MAX_OPSET`] or below what a layer needs, an input size
/// the network does not take, a layer that needs a size when none is given, and a layer
/// without an ONNX form.
pub fn to_onnx(module: &dyn Module, options: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    Ok(model(module, options)?.encode_to_vec())
}

/// Writes `module` as an ONNX model to `path`; returns what it wrote.
///
/// # Errors
/// As [`to_onnx`], and a file that cannot be written.
pub fn save_onnx(
    module: &dyn Module,
    path: impl AsRef<Path>,
    options: &ExportOptions,
) -> Result<OnnxSummary, ExportError> {
    let model = model(module, options)?;
    let bytes = model.encode_to_vec();
    let path = path.as_ref();
    std::fs::write(path, &bytes).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(summary(&model, bytes.len(), options.opset))
}

/// The node count and size of what `to_onnx` writes for `module`.
///
/// # Errors
/// As [`to_onnx`].
pub fn onnx_summary(
    module: &dyn Module,
    options: &ExportOptions,
) -> Result<OnnxSummary, ExportError> {
    let model = model(module, options)?;
    Ok(summary(&model, model.encoded_len(), options.opset))
}

fn summary(model: &ModelProto, bytes: usize, opset: i64) -> OnnxSummary {
    let graph = model.graph.as_ref();
    OnnxSummary {
        nodes: graph.map_or(0, |g| g.node.len()),
        initializers: graph.map_or(0, |g| g.initializer.len()),
        bytes,
        opset,
    }
}
