//! The network's graph as constant data: `quote!` of the plan's layers, groups, nodes and rows,
//! value for value.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use stride_geometry::{AxisRule, Field, FlowOp, Padding, Window};

use crate::model::{
    Act, Count, CustomDef, External, Group, Init, Node, Op, Plan, Planned, Row, Shape, Sizes,
    TensorSpec, UpsampleMode,
};

/// `::stride::__private::Graph { … }`.
pub fn graph(plan: &Plan) -> TokenStream {
    let name = plan.name.to_string();
    let [c, h, w] = plan.input;
    let sizes = plan.sizes.iter().map(input_size);
    let (ah, aw) = (plan.sizes[0].min, plan.sizes[1].min);
    let flows = plan.flows.iter().map(|flow| {
        let ops = flow.iter().map(flow_op);
        quote!(&[#(#ops),*])
    });
    let output = dims(&plan.output);
    let layers = plan.layers.iter().map(layer);
    let groups = plan.groups.iter().map(group);
    let externals = plan.externals.iter().map(external);
    let nodes = nodes(&plan.nodes);
    let rows = plan.rows.iter().map(|r| row(r, plan));
    let (field, jump) = field(plan.field);
    quote! {
        ::stride::__private::Graph {
            name: #name,
            input: [#c, #h, #w],
            sizes: [#(#sizes),*],
            at: [#c, #ah, #aw],
            flows: [#(#flows),*],
            output: &#output,
            layers: &[#(#layers),*],
            groups: &[#(#groups),*],
            externals: &[#(#externals),*],
            nodes: #nodes,
            rows: &[#(#rows),*],
            params: Self::PARAMS,
            macs: Self::MACS,
            receptive_field: #field,
            jump: #jump,
        }
    }
}

/// `PARAMS` or `MACS`: the network's own count plus its external networks' (and, for
/// `PARAMS`, its custom layers' tensors).
pub fn total(own: u64, plan: &Plan, what: &str) -> TokenStream {
    let customs = plan
        .layers
        .iter()
        .filter_map(|l| l.custom.as_ref())
        .filter(|_| what == "PARAMS")
        .map(custom_params);
    let what = quote::format_ident!("{what}");
    let externals = plan.externals.iter().map(|e| {
        let ty = &e.ty;
        quote!(<#ty>::#what)
    });
    quote!(::stride::__private::saturating_sum(&[#own #(, #externals)* #(, #customs)*]))
}

/// `<Type as CustomShape<C, H, W>>`, at the shape flowing into the custom layer.
pub fn custom_shape(custom: &CustomDef) -> TokenStream {
    let (ty, [c, h, w]) = (&custom.ty, custom.input);
    quote_spanned!(custom.span=> <#ty as ::stride::__private::CustomShape<#c, #h, #w>>)
}

/// A custom layer's parameters: the values of its tensors.
fn custom_params(custom: &CustomDef) -> TokenStream {
    let shape = custom_shape(custom);
    quote!(::stride::__private::tensor_values(#shape::TENSORS))
}

pub fn dims(shape: &Shape) -> TokenStream {
    let dims = shape.dims();
    quote!([#(#dims),*])
}

fn layer(layer: &Planned) -> TokenStream {
    let (row, key, name) = (layer.row, &layer.key, layer.name.to_string());
    let name = name.trim_start_matches("r#");
    let output = dims(&layer.output);
    let (op, tensors) = match &layer.custom {
        Some(custom) => {
            let ty = &custom.ty;
            let shape = custom_shape(custom);
            (
                quote!(::stride::__private::Op::Custom(&<#ty as ::stride::__private::CustomNode>::NODE)),
                quote!(#shape::TENSORS),
            )
        }
        None => {
            let tensors = layer.tensors.iter().map(tensor);
            (op(&layer.op), quote!(&[#(#tensors),*]))
        }
    };
    quote! {
        ::stride::__private::Layer {
            row: #row,
            key: #key,
            name: #name,
            op: #op,
            output: &#output,
            tensors: #tensors,
        }
    }
}

/// The sizes an axis takes.
fn input_size(sizes: &Sizes) -> TokenStream {
    let name = sizes.name.clone().unwrap_or_default();
    let (min, step, regular) = (sizes.min, sizes.step, sizes.regular);
    quote! {
        ::stride::__private::InputSize { name: #name, min: #min, step: #step, regular: #regular }
    }
}

/// One step of an axis's size program.
fn flow_op(op: &FlowOp) -> TokenStream {
    let body = match *op {
        FlowOp::Layer { row, rule } => {
            let rule = axis_rule(rule);
            quote!(Layer { row: #row, rule: #rule })
        }
        FlowOp::Residual => quote!(Residual),
        FlowOp::Shortcut => quote!(Shortcut),
        FlowOp::EndResidual { row } => quote!(EndResidual { row: #row }),
        FlowOp::Concat => quote!(Concat),
        FlowOp::Branch => quote!(Branch),
        FlowOp::EndConcat { row } => quote!(EndConcat { row: #row }),
        FlowOp::Gate => quote!(Gate),
        FlowOp::EndGate { row } => quote!(EndGate { row: #row }),
    };
    quote!(::stride::__private::FlowOp::#body)
}

fn axis_rule(rule: AxisRule) -> TokenStream {
    let window = |w: Window| {
        let (k, s, d, b, e) = (w.kernel, w.stride, w.dilation, w.pad_begin, w.pad_end);
        quote! {
            ::stride::__private::Window { kernel: #k, stride: #s, dilation: #d, pad_begin: #b, pad_end: #e }
        }
    };
    let body = match rule {
        AxisRule::Keep => quote!(Keep),
        AxisRule::Conv { window: w, padding } => {
            let (w, p) = (window(w), axis_padding(padding));
            quote!(Conv { window: #w, padding: #p })
        }
        AxisRule::Pool {
            window: w,
            padding,
            ceil_mode,
        } => {
            let (w, p) = (window(w), axis_padding(padding));
            quote!(Pool { window: #w, padding: #p, ceil_mode: #ceil_mode })
        }
        AxisRule::Transposed(a) => {
            let (k, s, d, p, o) = (a.kernel, a.stride, a.dilation, a.padding, a.output_padding);
            quote! {
                Transposed(::stride::__private::TransposedAxis {
                    kernel: #k, stride: #s, dilation: #d, padding: #p, output_padding: #o,
                })
            }
        }
        AxisRule::Scale(s) => quote!(Scale(#s)),
        AxisRule::Fixed(s) => quote!(Fixed(#s)),
        AxisRule::Exactly { input, output } => quote!(Exactly { input: #input, output: #output }),
    };
    quote!(::stride::__private::AxisRule::#body)
}

fn tensor(spec: &TensorSpec) -> TokenStream {
    let (name, shape) = (spec.name, &spec.shape);
    let init = match spec.init {
        Init::KaimingNormalFanOut => quote!(KaimingNormalFanOut),
        Init::Uniform { fan_in } => quote!(Uniform { fan_in: #fan_in }),
        Init::Zeros => quote!(Zeros),
        Init::Ones => quote!(Ones),
    };
    quote! {
        ::stride::__private::TensorSpec {
            name: #name,
            shape: &[#(#shape),*],
            init: ::stride::__private::InitRule::#init,
        }
    }
}

fn group(group: &Group) -> TokenStream {
    let (conv, before_add) = (group.conv, group.before_add);
    let bn = option(group.bn.map(|b| quote!(#b)));
    let activation = option(group.activation.map(|a| quote!(#a)));
    quote! {
        ::stride::__private::Group { conv: #conv, bn: #bn, activation: #activation, before_add: #before_add }
    }
}

fn external(external: &External) -> TokenStream {
    let key = &external.key;
    let name = external.name.to_string();
    let seed_offset = external.seed_offset;
    quote! {
        ::stride::__private::External { key: #key, name: #name, seed_offset: #seed_offset }
    }
}

/// `&[node, …]`.
fn nodes(nodes: &[Node]) -> TokenStream {
    let nodes = nodes.iter().map(node);
    quote!(&[#(#nodes),*])
}

fn node(node: &Node) -> TokenStream {
    match node {
        Node::Layer(i) => quote!(::stride::__private::Node::Layer(#i)),
        Node::Group(i) => quote!(::stride::__private::Node::Group(#i)),
        Node::External(i) => quote!(::stride::__private::Node::External(#i)),
        Node::Residual {
            main,
            shortcut,
            closing,
        } => {
            let main = nodes(main);
            let shortcut = option(shortcut.as_deref().map(nodes));
            let closing = option(closing.map(|g| quote!(#g)));
            quote! {
                ::stride::__private::Node::Residual { main: #main, shortcut: #shortcut, closing: #closing }
            }
        }
        Node::Concat(branches) => {
            let branches = branches.iter().map(|b| nodes(b));
            quote!(::stride::__private::Node::Concat(&[#(#branches),*]))
        }
        Node::Scale(gate) => {
            let gate = nodes(gate);
            quote!(::stride::__private::Node::Scale(#gate))
        }
    }
}

fn row(row: &Row, plan: &Plan) -> TokenStream {
    let name = &row.name;
    let custom = match row.params {
        Count::Custom(i) => plan.layers.get(i).and_then(|l| l.custom.as_ref()),
        _ => None,
    };
    let kind = match custom {
        Some(custom) => {
            let ty = &custom.ty;
            quote!(<#ty as ::stride::__private::CustomLayer>::KIND)
        }
        None => {
            let kind = &row.kind;
            quote!(#kind)
        }
    };
    let output = dims(&row.output);
    let count = |count: Count, what: &str| match count {
        Count::Known(n) => quote!(#n),
        Count::External(i) => {
            let ty = &plan.externals[i].ty;
            let what = quote::format_ident!("{what}");
            quote!(<#ty>::#what)
        }
        Count::Custom(_) => custom.map_or(quote!(0u64), custom_params),
    };
    let (params, macs) = (count(row.params, "PARAMS"), count(row.macs, "MACS"));
    let (field, jump) = field(row.field);
    quote! {
        ::stride::__private::LayerInfo {
            name: #name, kind: #kind, output: &#output, params: #params, macs: #macs,
            receptive_field: #field, jump: #jump,
        }
    }
}

/// The receptive field's size and jump, as two `Option<[usize; 2]>`.
pub fn field(field: Option<[Field; 2]>) -> (TokenStream, TokenStream) {
    match field {
        Some([h, w]) => {
            let (sh, sw, jh, jw) = (h.size, w.size, h.jump, w.jump);
            (
                quote!(::core::option::Option::Some([#sh, #sw])),
                quote!(::core::option::Option::Some([#jh, #jw])),
            )
        }
        None => (
            quote!(::core::option::Option::None),
            quote!(::core::option::Option::None),
        ),
    }
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn hw(v: [usize; 2]) -> TokenStream {
    let [h, w] = v;
    quote!(::stride::__private::Hw([#h, #w]))
}

/// One axis's padding: explicit pads, or the mode the runtime resolves for each size.
fn axis_padding(padding: Padding) -> TokenStream {
    match padding {
        Padding::Explicit { begin, end } => {
            quote!(::stride::__private::Padding::Explicit { begin: #begin, end: #end })
        }
        Padding::Valid => quote!(::stride::__private::Padding::Valid),
        Padding::Same => quote!(::stride::__private::Padding::Same),
        Padding::SameUpper => quote!(::stride::__private::Padding::SameUpper),
        Padding::SameLower => quote!(::stride::__private::Padding::SameLower),
    }
}

/// A padding as `Padding2d`.
fn padding(padding: [Padding; 2]) -> TokenStream {
    let [h, w] = padding.map(axis_padding);
    quote!(::stride::__private::Padding2d([#h, #w]))
}

/// An `f32` literal; the checks refused every value that is not finite as an `f32`.
fn real(v: f32) -> Literal {
    Literal::f32_suffixed(v)
}

fn activation(act: Act) -> TokenStream {
    match act {
        Act::Relu => quote!(::stride::__private::Activation::Relu),
        Act::Relu6 => quote!(::stride::__private::Activation::Relu6),
        Act::LeakyRelu(slope) => {
            let slope = real(slope);
            quote!(::stride::__private::Activation::LeakyRelu(#slope))
        }
        Act::Sigmoid => quote!(::stride::__private::Activation::Sigmoid),
        Act::Tanh => quote!(::stride::__private::Activation::Tanh),
        Act::Silu => quote!(::stride::__private::Activation::Silu),
        Act::Gelu => quote!(::stride::__private::Activation::Gelu),
        Act::GeluTanh => quote!(::stride::__private::Activation::GeluTanh),
        Act::Hardswish => quote!(::stride::__private::Activation::Hardswish),
        Act::Hardsigmoid => quote!(::stride::__private::Activation::Hardsigmoid),
    }
}

/// The graph op of a layer.
fn op(op: &Op) -> TokenStream {
    let body = match op {
        Op::Conv2d(c) => {
            let (stride, padding, dilation, groups) =
                (hw(c.stride), padding(c.padding), hw(c.dilation), c.groups);
            quote! {
                Conv2d(::stride::__private::Conv2dParams {
                    stride: #stride, padding: #padding, dilation: #dilation, groups: #groups,
                })
            }
        }
        Op::ConvTranspose2d(c) => {
            let (stride, padding, output_padding, dilation, groups) = (
                hw(c.stride),
                hw(c.padding),
                hw(c.output_padding),
                hw(c.dilation),
                c.groups,
            );
            quote! {
                ConvTranspose2d(::stride::__private::ConvTranspose2dParams {
                    stride: #stride, padding: #padding, output_padding: #output_padding,
                    dilation: #dilation, groups: #groups,
                })
            }
        }
        Op::MaxPool2d(p) => {
            let (kernel, stride, padding, dilation, ceil_mode) = (
                hw(p.kernel),
                hw(p.stride),
                padding(p.padding),
                hw(p.dilation),
                p.ceil_mode,
            );
            quote! {
                MaxPool2d(::stride::__private::MaxPool2dParams {
                    kernel: #kernel, stride: #stride, padding: #padding, dilation: #dilation,
                    ceil_mode: #ceil_mode,
                })
            }
        }
        Op::AvgPool2d {
            pool: p,
            count_include_pad,
            divisor_override,
        } => {
            let (kernel, stride, padding, ceil_mode) =
                (hw(p.kernel), hw(p.stride), padding(p.padding), p.ceil_mode);
            let divisor = option(divisor_override.map(|d| quote!(#d)));
            quote! {
                AvgPool2d(::stride::__private::AvgPool2dParams {
                    kernel: #kernel, stride: #stride, padding: #padding, ceil_mode: #ceil_mode,
                    count_include_pad: #count_include_pad, divisor_override: #divisor,
                })
            }
        }
        Op::AdaptiveAvgPool2d { output } => {
            let output = hw(*output);
            quote!(AdaptiveAvgPool2d(#output))
        }
        Op::BatchNorm2d { eps } => {
            let eps = real(*eps);
            quote!(BatchNorm2d { eps: #eps })
        }
        Op::LayerNorm2d { eps } => {
            let eps = real(*eps);
            quote!(LayerNorm2d { eps: #eps })
        }
        Op::LayerScale => quote!(LayerScale),
        Op::Activation(act) => {
            let act = activation(*act);
            quote!(Activation(#act))
        }
        Op::Upsample { scale, mode } => {
            let scale = hw(*scale);
            let mode = match mode {
                UpsampleMode::Nearest => quote!(Nearest),
                UpsampleMode::Bilinear => quote!(Bilinear),
            };
            quote! {
                Upsample(::stride::__private::UpsampleParams {
                    target: ::stride::__private::UpsampleTarget::ScaleFactor(#scale),
                    mode: ::stride::__private::UpsampleMode::#mode,
                })
            }
        }
        Op::Flatten => quote!(Flatten),
        Op::Dropout => quote!(Dropout),
        Op::Identity => quote!(Identity),
        Op::Linear => quote!(Linear),
        // Written by `layer`, which names the custom layer's type.
        Op::Custom => quote!(Identity),
    };
    quote!(::stride::__private::Op::#body)
}
