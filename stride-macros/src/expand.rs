//! Code generation: `quote!` only. Every decision was made in `check.rs`; this file turns the
//! [`Plan`] into a struct, its constants, `forward`, loading, saving and initialisation.
//!
//! Generated code names only `::stride::__private::…` paths.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use stride_geometry::Field;
use syn::Ident;

use crate::model::{Act, Node, Op, Plan, Planned, Shape, UpsampleMode};

pub fn expand(plan: &Plan) -> TokenStream {
    let Plan {
        attrs, vis, name, ..
    } = plan;
    let fields = Node::leaves(&plan.nodes).into_iter().filter_map(field);
    let consts = constants(plan);
    let forward = forward(plan);
    let weights = weights(plan);
    let fusion = fusion_methods(plan);
    let fused_fields = fused_groups(&plan.nodes).into_iter().map(|g| {
        let field = fused_field(g.conv);
        let ty = match g.conv.op {
            Op::ConvTranspose2d(_) => quote!(::stride::__private::ConvTranspose2d),
            _ => quote!(::stride::__private::Conv2d),
        };
        quote!(#field: ::core::option::Option<::stride::__private::Fused<#ty>>)
    });
    let externals = Node::externals(&plan.nodes);
    let external_fields = externals.iter().map(|e| {
        let (name, ty) = (&e.name, &e.ty);
        let doc = format!(
            "`{}`: a `{}`, output {}.",
            e.key,
            quote!(#ty).to_string().replace(' ', ""),
            e.output.text()
        );
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let assertions = externals.iter().map(|e| {
        let ty = &e.ty;
        let (input, output) = (dims(&e.input), dims(&e.output));
        let name = quote!(#ty).to_string().replace(' ', "");
        let input_message = format!("`{}`: `{name}::INPUT` is not {}, the shape flowing into it", e.key, e.input.text());
        let output_message = format!("`{}`: `{name}::OUTPUT` is not the stated {}", e.key, e.output.text());
        let span = e.name.span();
        quote_spanned! {span=>
            const _: () = {
                ::core::assert!(::stride::__private::same_dims(&<#ty>::INPUT, &#input), #input_message);
                ::core::assert!(::stride::__private::same_dims(&<#ty>::OUTPUT, &#output), #output_message);
            };
        }
    });
    let typed = typed(plan);
    let warnings = plan.warnings.iter().map(|w| {
        let lint = Ident::new(w.lint, w.span);
        let message = &w.message;
        quote_spanned! {w.span=>
            const _: () = {
                #[deprecated(note = #message)]
                #[allow(non_upper_case_globals)]
                const #lint: () = ();
                #lint
            };
        }
    });
    quote! {
        #(#attrs)*
        #vis struct #name {
            #(#fields,)*
            #(#external_fields,)*
            #(#fused_fields,)*
        }

        #(#assertions)*

        impl #name {
            #consts
            #forward
            #weights
            #fusion
        }

        #typed

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&Self::SUMMARY, f)
            }
        }

        #(#warnings)*
    }
}

/// The struct field of a layer with weights.
fn field(layer: &Planned) -> Option<TokenStream> {
    let name = &layer.name;
    let doc = format!(
        "`{}`: {}, output {}.",
        layer.key,
        layer.kind,
        layer.output.text()
    );
    let ty = match layer.op {
        Op::Conv2d(_) => quote!(::stride::__private::Conv2d),
        Op::ConvTranspose2d(_) => quote!(::stride::__private::ConvTranspose2d),
        Op::BatchNorm2d { .. } => quote!(::stride::__private::BatchNorm2d),
        Op::Linear { .. } => quote!(::stride::__private::Linear),
        _ => return None,
    };
    Some(quote!(#[doc = #doc] pub #name: #ty))
}

fn dims(shape: &Shape) -> TokenStream {
    let dims = shape.dims();
    quote!([#(#dims),*])
}

fn constants(plan: &Plan) -> TokenStream {
    let name = plan.name.to_string();
    let input = plan.input;
    let output = dims(&plan.output);
    let output_len = plan.output.dims().len();
    let (params, macs) = (plan.params, plan.macs);
    let external: Vec<&syn::Path> = Node::externals(&plan.nodes).iter().map(|e| &e.ty).collect();
    let params = quote!(#params #(+ <#external>::PARAMS)*);
    let macs = quote!(#macs #(+ <#external>::MACS)*);
    let mut layers = Vec::new();
    summary_rows(&plan.nodes, &mut layers);
    let (field, jump) = field_tokens(plan.field);
    quote! {
        /// The input shape `[C, H, W]`; any batch size.
        pub const INPUT: [usize; 3] = [#(#input),*];
        /// The output shape, without the batch dimension.
        pub const OUTPUT: [usize; #output_len] = #output;
        /// Trainable parameters (batch norm's running statistics are buffers, not counted).
        pub const PARAMS: u64 = #params;
        /// Multiply-adds of the convolutions and linear layers, per sample.
        pub const MACS: u64 = #macs;
        /// The receptive field of one output position `[h, w]`, in input pixels; `None` when a
        /// layer upsamples or sees its whole input.
        pub const RECEPTIVE_FIELD: ::core::option::Option<[usize; 2]> = #field;
        /// The distance in input pixels between neighbouring outputs `[h, w]` (the product of
        /// the strides), where the receptive field is defined.
        pub const JUMP: ::core::option::Option<[usize; 2]> = #jump;
        /// Every layer's kind, output shape, parameters, MACs and receptive field, and the
        /// totals. `Display` prints it as a table.
        pub const SUMMARY: ::stride::__private::Summary = ::stride::__private::Summary {
            name: #name,
            input: &[#(#input),*],
            layers: &[#(#layers),*],
            params: #params,
            macs: #macs,
        };
    }
}

/// One `LayerInfo` per layer, plus one per residual add and concat after its branches.
fn summary_rows(nodes: &[Node], rows: &mut Vec<TokenStream>) {
    let row = |name: &str,
               kind: &str,
               output: &Shape,
               params: TokenStream,
               macs: TokenStream,
               field: Option<[Field; 2]>| {
        let output = dims(output);
        let (field, jump) = field_tokens(field);
        quote! {
            ::stride::__private::LayerInfo {
                name: #name, kind: #kind, output: &#output, params: #params, macs: #macs,
                receptive_field: #field, jump: #jump,
            }
        }
    };
    let leaf = |l: &Planned| {
        let (params, macs) = (l.params, l.macs);
        row(
            &l.key,
            &l.kind,
            &l.output,
            quote!(#params),
            quote!(#macs),
            l.field,
        )
    };
    for node in nodes {
        match node {
            Node::Layer(l) => rows.push(leaf(l)),
            Node::Fused { conv, bn, act } => {
                for l in [Some(conv), Some(bn), act.as_ref()].into_iter().flatten() {
                    rows.push(leaf(l));
                }
            }
            Node::External(e) => {
                let ty = &e.ty;
                let kind = quote!(#ty).to_string().replace(' ', "");
                rows.push(row(
                    &e.key,
                    &kind,
                    &e.output,
                    quote!(<#ty>::PARAMS),
                    quote!(<#ty>::MACS),
                    None,
                ));
            }
            Node::Residual {
                name,
                main,
                shortcut,
                output,
                after,
            } => {
                summary_rows(main, rows);
                if let Some(shortcut) = shortcut {
                    summary_rows(shortcut, rows);
                }
                let field = Node::leaves(main).last().and_then(|l| l.field);
                rows.push(row(
                    name,
                    "residual add",
                    output,
                    quote!(0),
                    quote!(0),
                    field,
                ));
                if let Some(l) = after {
                    rows.push(leaf(l));
                }
            }
            Node::Concat {
                name,
                branches,
                output,
            } => {
                for branch in branches {
                    summary_rows(branch, rows);
                }
                rows.push(row(name, "concat", output, quote!(0), quote!(0), None));
            }
        }
    }
}

fn field_tokens(field: Option<[Field; 2]>) -> (TokenStream, TokenStream) {
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

fn hw(v: [usize; 2]) -> TokenStream {
    let [h, w] = v;
    quote!(::stride::__private::Hw([#h, #w]))
}

fn activation(act: Act) -> TokenStream {
    match act {
        Act::Relu => quote!(::stride::__private::Activation::Relu),
        Act::Relu6 => quote!(::stride::__private::Activation::Relu6),
        Act::LeakyRelu(slope) => {
            let slope = slope as f32;
            quote!(::stride::__private::Activation::LeakyRelu(#slope))
        }
        Act::Sigmoid => quote!(::stride::__private::Activation::Sigmoid),
        Act::Tanh => quote!(::stride::__private::Activation::Tanh),
        Act::Silu => quote!(::stride::__private::Activation::Silu),
    }
}

/// `forward`: the nodes in order, each consuming the previous output.
fn forward(plan: &Plan) -> TokenStream {
    let name = plan.name.to_string();
    let out_ty = match plan.output {
        Shape::Map(_) => quote!(::stride::__private::ndarray::Array4<f32>),
        Shape::Flat(_) => quote!(::stride::__private::ndarray::Array2<f32>),
    };
    let body = chain(&plan.nodes);
    let in_dims = plan.input;
    quote! {
        /// Runs the network on a batch `[N, C, H, W]` of any size `N`.
        ///
        /// # Errors
        /// An input whose `C`, `H` or `W` differs from [`Self::INPUT`].
        pub fn forward(
            &self,
            input: ::stride::__private::ndarray::ArrayView4<'_, f32>,
        ) -> ::core::result::Result<#out_ty, ::stride::__private::Error> {
            ::stride::__private::check_input(#name, &input, [#(#in_dims),*])?;
            let x = input;
            #body
            ::core::result::Result::Ok(x.into_owned())
        }
    }
}

/// The private field holding a fused group's layer, named after its convolution.
fn fused_field(conv: &Planned) -> Ident {
    format_ident!("__fused_{}", conv.name)
}

/// A fused group: a convolution, its batch norm, and the activation the fused layer applies
/// (its own, or the one after the residual it closes).
struct Group<'a> {
    conv: &'a Planned,
    bn: &'a Planned,
    act: Option<&'a Planned>,
    /// Whether it closes a residual: the add comes before the activation.
    before_add: bool,
}

/// Every fused group under `nodes`.
fn fused_groups(nodes: &[Node]) -> Vec<Group<'_>> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            Node::Layer(_) | Node::External(_) => {}
            Node::Fused { conv, bn, act } => out.push(Group {
                conv,
                bn,
                act: act.as_ref(),
                before_add: false,
            }),
            Node::Residual {
                main,
                shortcut,
                after,
                ..
            } => {
                let mut groups = fused_groups(main);
                if let (Some(after), Some(last)) = (after, groups.last_mut()) {
                    last.act = Some(after);
                    last.before_add = true;
                }
                out.extend(groups);
                if let Some(shortcut) = shortcut {
                    out.extend(fused_groups(shortcut));
                }
            }
            Node::Concat { branches, .. } => {
                for branch in branches {
                    out.extend(fused_groups(branch));
                }
            }
        }
    }
    out
}

/// Statements that run `nodes` on `x` (a view or an owned array) and rebind `x` to the result.
fn chain(nodes: &[Node]) -> TokenStream {
    let steps = nodes.iter().map(|node| match node {
        Node::Layer(layer) => step(layer),
        Node::External(e) => {
            let name = &e.name;
            quote!(let x = self.#name.forward(x.view())?;)
        }
        Node::Fused { conv, bn, act } => {
            let fused = fused_field(conv);
            let (conv, bn) = (step(conv), step(bn));
            let act = act.as_ref().map(step);
            quote! {
                let x = match &self.#fused {
                    ::core::option::Option::Some(fused) => fused.forward(x.view())?,
                    ::core::option::Option::None => { #conv #bn #act x }
                };
            }
        }
        Node::Residual { main, shortcut, after, .. } => {
            let skip = match shortcut {
                Some(shortcut) => {
                    let shortcut = chain(shortcut);
                    quote!({ let x = skip.view(); #shortcut x })
                }
                None => quote!(skip),
            };
            let add = quote!({
                let mut x = x.into_owned();
                ::stride::__private::add_assign(x.view_mut(), skip.view())?;
                x
            });
            let body = match (after, main.split_last()) {
                (Some(after), Some((Node::Fused { conv, bn, act: None }, rest))) => {
                    let (rest, fused) = (chain(rest), fused_field(conv));
                    let (conv, bn, after) = (step(conv), step(bn), step(after));
                    quote! {
                        #rest
                        let skip = #skip;
                        match &self.#fused {
                            ::core::option::Option::Some(fused) => fused.forward_add(x.view(), skip.view())?,
                            ::core::option::Option::None => { #conv #bn let x = #add; #after x }
                        }
                    }
                }
                _ => {
                    let main = chain(main);
                    quote! { #main let skip = #skip; #add }
                }
            };
            quote! {
                let x = {
                    let skip = x;
                    let x = skip.view();
                    #body
                };
            }
        }
        Node::Concat { branches, .. } => {
            let branches = branches.iter().map(|branch| {
                let branch = chain(branch);
                quote!({ let x = input.view(); #branch x.into_owned() })
            });
            quote! {
                let x = {
                    let input = x;
                    let parts = [#(#branches),*];
                    ::stride::__private::concat_channels(&parts)?
                };
            }
        }
    });
    quote!(#(#steps)*)
}

/// `fuse`, `unfuse` and `is_fused`.
fn fusion_methods(plan: &Plan) -> TokenStream {
    let groups = fused_groups(&plan.nodes);
    let fields: Vec<Ident> = groups.iter().map(|g| fused_field(g.conv)).collect();
    let builds = groups.iter().map(|g| {
        let (conv, bn) = (&g.conv.name, &g.bn.name);
        let act = match g.act.map(|a| &a.op) {
            Some(Op::Activation(a)) => activation(*a),
            _ => quote!(::stride::__private::Activation::Identity),
        };
        let constructor = if g.before_add { quote!(before_add) } else { quote!(new) };
        quote!(::stride::__private::Fused::#constructor(&self.#conv, ::core::option::Option::Some(&self.#bn), #act)?)
    });
    let externals: Vec<&Ident> = Node::externals(&plan.nodes)
        .iter()
        .map(|e| &e.name)
        .collect();
    let first = match (fields.first(), externals.first()) {
        (Some(f), _) => quote!(self.#f.is_some()),
        (None, Some(e)) => quote!(self.#e.is_fused()),
        (None, None) => quote!(false),
    };
    quote! {
        /// Fuses the network for inference: every batch norm folded into the convolution
        /// before it, and the activation (and residual add) after it applied by that
        /// convolution as it writes its output. Loading and [`Self::init`] fuse by default
        /// (see `LoadOptions::fuse`). The layers' own weights are kept, so call this again
        /// after replacing a layer through its field.
        ///
        /// # Errors
        /// A batch norm whose width is not its convolution's output channels, which only a
        /// layer replaced through its field can cause.
        pub fn fuse(&mut self) -> ::core::result::Result<(), ::stride::__private::Error> {
            #(self.#fields = ::core::option::Option::Some(#builds);)*
            #(self.#externals.fuse()?;)*
            ::core::result::Result::Ok(())
        }

        /// Undoes [`Self::fuse`]: `forward` runs every layer on its own again.
        pub fn unfuse(&mut self) {
            #(self.#fields = ::core::option::Option::None;)*
            #(self.#externals.unfuse();)*
        }

        /// Whether `forward` runs the fused layers.
        pub fn is_fused(&self) -> bool {
            #first
        }
    }
}

/// The statements of one layer.
fn step(layer: &Planned) -> TokenStream {
    let field = &layer.name;
    match &layer.op {
        Op::Conv2d(_) | Op::ConvTranspose2d(_) | Op::BatchNorm2d { .. } | Op::Linear { .. } => {
            quote!(let x = self.#field.forward(x.view())?;)
        }
        Op::MaxPool2d(p) => {
            let (kernel, stride, dilation, ceil) =
                (hw(p.kernel), hw(p.stride), hw(p.dilation), p.ceil_mode);
            let padding = padding(p.pads);
            quote! {
                let x = {
                    const MAX_POOL: ::stride::__private::MaxPool2dParams = ::stride::__private::MaxPool2dParams {
                        kernel: #kernel, stride: #stride, padding: #padding, dilation: #dilation, ceil_mode: #ceil,
                    };
                    ::stride::__private::max_pool2d(x.view(), &MAX_POOL)?
                };
            }
        }
        Op::AvgPool2d {
            pool: p,
            count_include_pad,
            divisor_override,
        } => {
            let (kernel, stride, ceil) = (hw(p.kernel), hw(p.stride), p.ceil_mode);
            let padding = padding(p.pads);
            let divisor = match divisor_override {
                Some(d) => quote!(::core::option::Option::Some(#d)),
                None => quote!(::core::option::Option::None),
            };
            quote! {
                let x = {
                    const AVG_POOL: ::stride::__private::AvgPool2dParams = ::stride::__private::AvgPool2dParams {
                        kernel: #kernel, stride: #stride, padding: #padding, ceil_mode: #ceil,
                        count_include_pad: #count_include_pad, divisor_override: #divisor,
                    };
                    ::stride::__private::avg_pool2d(x.view(), &AVG_POOL)?
                };
            }
        }
        Op::AdaptiveAvgPool2d { output } => {
            let output = hw(*output);
            quote!(let x = ::stride::__private::adaptive_avg_pool2d(x.view(), #output)?;)
        }
        Op::Activation(act) => {
            let act = activation(*act);
            quote! {
                let mut x = x.into_owned();
                #act.apply_in_place(x.view_mut());
            }
        }
        Op::Upsample { scale, mode } => {
            let scale = hw(*scale);
            let mode = match mode {
                UpsampleMode::Nearest => quote!(nearest),
                UpsampleMode::Bilinear => quote!(bilinear),
            };
            quote! {
                let params = ::stride::__private::UpsampleParams::scale(#scale).#mode();
                let x = ::stride::__private::upsample(x.view(), &params)?;
            }
        }
        Op::Flatten => quote!(let x = ::stride::__private::flatten(x.view());),
        Op::Dropout => quote!(),
    }
}

/// Explicit pads as a `Padding2d` constant.
fn padding(pads: [stride_geometry::Pads; 2]) -> TokenStream {
    let [h, w] = pads;
    let (t, b, l, r) = (h.begin, h.end, w.begin, w.end);
    quote!(::stride::__private::Padding2d::asymmetric(#t, #b, #l, #r))
}

/// One weight tensor of a layer: its key suffix, shape, and how to build the layer from the
/// loaded tensors.
struct Tensor {
    suffix: &'static str,
    shape: Vec<usize>,
    var: Ident,
    rank: usize,
}

fn tensors(layer: &Planned) -> Vec<Tensor> {
    let t = |suffix: &'static str, shape: Vec<usize>| Tensor {
        suffix,
        rank: shape.len(),
        shape,
        var: format_ident!("{}_{}", layer.name, suffix),
    };
    match &layer.op {
        Op::Conv2d(c) => {
            let mut v = vec![t(
                "weight",
                vec![
                    c.out_channels,
                    c.in_channels / c.groups,
                    c.kernel[0],
                    c.kernel[1],
                ],
            )];
            if c.bias {
                v.push(t("bias", vec![c.out_channels]));
            }
            v
        }
        Op::ConvTranspose2d(c) => {
            let mut v = vec![t(
                "weight",
                vec![
                    c.in_channels,
                    c.out_channels / c.groups,
                    c.kernel[0],
                    c.kernel[1],
                ],
            )];
            if c.bias {
                v.push(t("bias", vec![c.out_channels]));
            }
            v
        }
        Op::BatchNorm2d { channels, .. } => ["weight", "bias", "running_mean", "running_var"]
            .into_iter()
            .map(|s| t(s, vec![*channels]))
            .collect(),
        Op::Linear {
            in_features,
            out_features,
            bias,
        } => {
            let mut v = vec![t("weight", vec![*out_features, *in_features])];
            if *bias {
                v.push(t("bias", vec![*out_features]));
            }
            v
        }
        _ => Vec::new(),
    }
}

/// The expression building a layer from its tensor variables.
fn build_layer(layer: &Planned) -> Option<TokenStream> {
    let var = |suffix: &str| format_ident!("{}_{}", layer.name, suffix);
    let (w, b) = (var("weight"), var("bias"));
    Some(match &layer.op {
        Op::Conv2d(c) => {
            let bias = if c.bias {
                quote!(::core::option::Option::Some(#b))
            } else {
                quote!(::core::option::Option::None)
            };
            let (stride, dilation, groups, padding) =
                (hw(c.stride), hw(c.dilation), c.groups, padding(c.pads));
            quote! {
                ::stride::__private::Conv2d::new(#w, #bias, ::stride::__private::Conv2dParams {
                    stride: #stride, padding: #padding, dilation: #dilation, groups: #groups,
                })
            }
        }
        Op::ConvTranspose2d(c) => {
            let bias = if c.bias {
                quote!(::core::option::Option::Some(#b))
            } else {
                quote!(::core::option::Option::None)
            };
            let (stride, dilation, groups) = (hw(c.stride), hw(c.dilation), c.groups);
            let (padding, output_padding) = (hw(c.padding), hw(c.output_padding));
            quote! {
                ::stride::__private::ConvTranspose2d::new(#w, #bias, ::stride::__private::ConvTranspose2dParams {
                    stride: #stride, padding: #padding, output_padding: #output_padding,
                    dilation: #dilation, groups: #groups,
                })
            }
        }
        Op::BatchNorm2d { eps, .. } => {
            let (mean, var_) = (var("running_mean"), var("running_var"));
            let eps = *eps as f32;
            quote! {
                ::stride::__private::BatchNorm2d::new(
                    #mean.view(), #var_.view(),
                    ::core::option::Option::Some(#w.view()), ::core::option::Option::Some(#b.view()), #eps,
                )
            }
        }
        Op::Linear { bias, .. } => {
            let bias = if *bias {
                quote!(::core::option::Option::Some(#b))
            } else {
                quote!(::core::option::Option::None)
            };
            quote!(::stride::__private::Linear::new(#w, #bias))
        }
        _ => return None,
    })
}

fn weights(plan: &Plan) -> TokenStream {
    let layers: Vec<&Planned> = Node::leaves(&plan.nodes)
        .into_iter()
        .filter(|l| build_layer(l).is_some())
        .collect();
    let all: Vec<(&Planned, Tensor)> = layers
        .iter()
        .flat_map(|l| tensors(l).into_iter().map(move |t| (*l, t)))
        .collect();
    let vars: Vec<&Ident> = all.iter().map(|(_, t)| &t.var).collect();
    let takes = all.iter().map(|(l, t)| {
        let key = format!("{}.{}", l.key, t.suffix);
        let shape = &t.shape;
        let dim = format_ident!("Ix{}", t.rank);
        quote! {
            loader.tensor::<::stride::__private::ndarray::#dim>(
                &::std::format!("{}{}", prefix, #key),
                &[#(#shape),*],
            )
        }
    });
    let externals = Node::externals(&plan.nodes);
    let external_names: Vec<&Ident> = externals.iter().map(|e| &e.name).collect();
    let external_takes = externals.iter().map(|e| {
        let (ty, key) = (&e.ty, format!("{}.", e.key));
        quote!(<#ty>::__take(loader, &::std::format!("{}{}", prefix, #key))?)
    });
    let external_saves = externals.iter().map(|e| {
        let (name, key) = (&e.name, format!("{}.", e.key));
        quote!(self.#name.__save(saver, &::std::format!("{}{}", prefix, #key))?;)
    });
    let external_inits = externals.iter().enumerate().map(|(i, e)| {
        let (name, ty) = (&e.name, &e.ty);
        let offset = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        quote!(let #name = <#ty>::init(seed.wrapping_add(#offset));)
    });
    let names: Vec<&Ident> = layers.iter().map(|l| &l.name).collect();
    let builds: Vec<TokenStream> = layers.iter().filter_map(|l| build_layer(l)).collect();
    let inits = layers.iter().map(|l| init_layer(l));
    let saves = all.iter().map(|(l, t)| {
        let key = format!("{}.{}", l.key, t.suffix);
        let field = &l.name;
        let getter = match (&l.op, t.suffix) {
            (_, "weight") if matches!(l.op, Op::BatchNorm2d { .. }) => quote!(self.#field.weight()),
            (_, "bias") if matches!(l.op, Op::BatchNorm2d { .. }) => quote!(self.#field.bias()),
            (_, "running_mean") => quote!(::core::option::Option::Some(self.#field.running_mean())),
            (_, "running_var") => quote!(::core::option::Option::Some(self.#field.running_var())),
            (_, "weight") => quote!(::core::option::Option::Some(self.#field.weight())),
            _ => quote!(self.#field.bias()),
        };
        quote! {
            if let ::core::option::Option::Some(tensor) = #getter {
                saver.add(&::std::format!("{}{}", prefix, #key), &tensor)?;
            }
        }
    });
    let fused: Vec<Ident> = fused_groups(&plan.nodes)
        .into_iter()
        .map(|g| fused_field(g.conv))
        .collect();
    let construct = quote! {
        Self {
            #(#names: #builds?,)*
            #(#external_names,)*
            #(#fused: ::core::option::Option::None,)*
        }
    };
    // `let (Some(a), …) = … else` with nothing to unpack would be an irrefutable pattern.
    let unpack_tensors = if vars.is_empty() {
        quote!(let () = tensors;)
    } else {
        quote! {
            let (#(::core::option::Option::Some(#vars),)*) = tensors else {
                return ::core::result::Result::Ok(::core::option::Option::None);
            };
        }
    };
    let unpack_externals = if external_names.is_empty() {
        quote!(let () = externals;)
    } else {
        quote! {
            let (#(::core::option::Option::Some(#external_names),)*) = externals else {
                return ::core::result::Result::Ok(::core::option::Option::None);
            };
        }
    };
    quote! {
        /// Loads torchvision-named weights from a safetensors file (memory-mapped), strictly:
        /// every tensor must be present with the right shape and dtype, and no other tensor may
        /// be in the file (BatchNorm's `num_batches_tracked` is ignored).
        ///
        /// # Errors
        /// Every missing key, unexpected key, wrong shape and wrong dtype at once, or an
        /// unreadable file.
        pub fn load_safetensors(
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
            Self::load_safetensors_with(path, &::stride::__private::LoadOptions::default())
        }

        /// As [`Self::load_safetensors`], with options: a key prefix, a non-strict mode that
        /// ignores the file's other tensors (to take a stem out of a whole ResNet), and whether
        /// to fuse.
        ///
        /// # Errors
        /// As [`Self::load_safetensors`].
        pub fn load_safetensors_with(
            path: impl ::core::convert::AsRef<::std::path::Path>,
            options: &::stride::__private::LoadOptions,
        ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
            let weights = ::stride::__private::Weights::open(path)?;
            Self::from_weights(&weights, options)
        }

        /// Builds the network from already opened weights.
        ///
        /// # Errors
        /// As [`Self::load_safetensors`].
        pub fn from_weights(
            weights: &::stride::__private::Weights,
            options: &::stride::__private::LoadOptions,
        ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
            let mut loader = ::stride::__private::Loader::new(weights, options);
            let network = Self::__take(&mut loader, "")?;
            loader.finish()?;
            let ::core::option::Option::Some(mut network) = network else {
                unreachable!("the loader reports every tensor it could not take");
            };
            if options.fuse {
                network.fuse()?;
            } else {
                network.unfuse();
            }
            ::core::result::Result::Ok(network)
        }

        /// Takes every tensor under `prefix` from `loader`, which records what is missing or
        /// wrong; `None` if anything was. For networks used as layers of other networks.
        #[doc(hidden)]
        pub fn __take(
            loader: &mut ::stride::__private::Loader<'_>,
            prefix: &str,
        ) -> ::core::result::Result<::core::option::Option<Self>, ::stride::__private::Error> {
            let tensors = (#(#takes,)*);
            let externals = (#(#external_takes,)*);
            #unpack_tensors
            #unpack_externals
            ::core::result::Result::Ok(::core::option::Option::Some(#construct))
        }

        /// Weights drawn deterministically from `seed`, as torchvision initialises: Kaiming
        /// normal (fan out) for convolutions, batch norm at scale 1 and shift 0, PyTorch's
        /// default uniform for linear layers. The network comes fused.
        pub fn init(seed: u64) -> Self {
            #[allow(unused_mut, unused_variables)]
            let mut init = ::stride::__private::Init::new(seed);
            #(#inits)*
            #(#external_inits)*
            let built = (|| -> ::core::result::Result<Self, ::stride::__private::Error> {
                let mut network: Self = #construct;
                network.fuse()?;
                ::core::result::Result::Ok(network)
            })();
            built.expect("the macro chose every shape, so the layers accept their weights")
        }

        /// Saves the weights under the same keys [`Self::load_safetensors`] reads.
        ///
        /// # Errors
        /// The file cannot be written.
        pub fn save_safetensors(
            &self,
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<(), ::stride::__private::SaveError> {
            let mut saver = ::stride::__private::Saver::new();
            self.__save(&mut saver, "")?;
            saver.write(path)
        }

        /// Adds every tensor to `saver` under `prefix`. For networks used as layers of other
        /// networks.
        #[doc(hidden)]
        pub fn __save(
            &self,
            saver: &mut ::stride::__private::Saver,
            prefix: &str,
        ) -> ::core::result::Result<(), ::stride::__private::SaveError> {
            let _ = (&saver, prefix);
            #(#saves)*
            #(#external_saves)*
            ::core::result::Result::Ok(())
        }
    }
}

/// Seeded initial weights for a layer, as torchvision initialises its models.
fn init_layer(layer: &Planned) -> TokenStream {
    let var = |suffix: &str| format_ident!("{}_{}", layer.name, suffix);
    let (w, b) = (var("weight"), var("bias"));
    let zeros = |n: usize| quote!(::stride::__private::ndarray::Array1::<f32>::zeros(#n));
    let ones = |n: usize| quote!(::stride::__private::ndarray::Array1::<f32>::ones(#n));
    match &layer.op {
        Op::Conv2d(c) => {
            let shape = [
                c.out_channels,
                c.in_channels / c.groups,
                c.kernel[0],
                c.kernel[1],
            ];
            let bias = c
                .bias
                .then(|| zeros(c.out_channels))
                .map(|z| quote!(let #b = #z;));
            quote!(let #w = init.kaiming_normal_fan_out([#(#shape),*]); #bias)
        }
        Op::ConvTranspose2d(c) => {
            let shape = [
                c.in_channels,
                c.out_channels / c.groups,
                c.kernel[0],
                c.kernel[1],
            ];
            let bias = c
                .bias
                .then(|| zeros(c.out_channels))
                .map(|z| quote!(let #b = #z;));
            quote!(let #w = init.kaiming_normal_fan_out([#(#shape),*]); #bias)
        }
        Op::BatchNorm2d { channels, .. } => {
            let (mean, var_) = (var("running_mean"), var("running_var"));
            let (one, zero) = (ones(*channels), zeros(*channels));
            quote!(let #w = #one; let #b = #zero; let #mean = #zero; let #var_ = #one;)
        }
        Op::Linear {
            in_features,
            out_features,
            bias,
        } => {
            let b = if *bias { quote!(#b) } else { quote!(_) };
            quote!(let (#w, #b) = init.linear_default(#out_features, #in_features);)
        }
        _ => quote!(),
    }
}

/// The typenum-shaped forward and the composition traits.
fn typed(plan: &Plan) -> TokenStream {
    let name = &plan.name;
    let shape_type = |shape: &Shape| {
        let dims = shape.dims().into_iter().map(unsigned);
        match shape {
            Shape::Map(_) => quote!(::stride::__private::Chw<#(#dims),*>),
            Shape::Flat(_) => quote!(::stride::__private::Flat<#(#dims),*>),
        }
    };
    let input = shape_type(&Shape::Map(plan.input));
    let output = shape_type(&plan.output);
    quote! {
        impl ::stride::__private::Network for #name {
            type Input = #input;
            type Output = #output;

            fn forward_typed(
                &self,
                x: ::stride::__private::Tensor<Self::Input>,
            ) -> ::stride::__private::Tensor<Self::Output> {
                let y = self.forward(x.view()).expect("the input's shape was checked by its type");
                ::stride::__private::Tensor::__from_checked(y)
            }
        }
    }
}

/// The typenum type of `n`, in binary (`typenum::U<N>` only names small numbers): `6` is
/// `UInt<UInt<UInt<UTerm, B1>, B1>, B0>`.
fn unsigned(n: usize) -> TokenStream {
    if n == 0 {
        return quote!(::stride::__private::typenum::UTerm);
    }
    let high = unsigned(n >> 1);
    let bit = if n & 1 == 1 { quote!(B1) } else { quote!(B0) };
    quote!(::stride::__private::typenum::UInt<#high, ::stride::__private::typenum::#bit>)
}

/// What to emit when checking failed: the errors, and a stub of the declared type so that code
/// using the network does not add errors of its own.
pub fn fallback(attrs: &[syn::Attribute], vis: &syn::Visibility, name: &Ident) -> TokenStream {
    let span = Span::call_site();
    quote_spanned! {span=>
        #(#attrs)*
        #vis struct #name;
        #[allow(dead_code, unused_variables)]
        impl #name {
            pub const INPUT: [usize; 3] = [0; 3];
            pub const PARAMS: u64 = 0;
            pub const MACS: u64 = 0;
            pub fn forward<D>(&self, input: D) -> ::core::result::Result<::stride::__private::ndarray::Array4<f32>, ::stride::__private::Error> {
                unimplemented!("the network did not compile")
            }
            pub fn load_safetensors(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
                unimplemented!("the network did not compile")
            }
            pub fn init(seed: u64) -> Self {
                unimplemented!("the network did not compile")
            }
        }
    }
}
