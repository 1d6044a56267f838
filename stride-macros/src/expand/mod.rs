//! Code generation: `quote!` only. Every decision was made in `check`; this writes a checked
//! network down as its graph (`graph.rs`) and a thin typed shell around the runtime's model:
//! the struct, its constants, methods that hand over to the runtime, one accessor per layer
//! with weights, and the typed `Network` impl. A network that failed to check gets a stub
//! (`stub.rs`).
//!
//! Generated code names only `::stride::__private::…` paths.

mod blocks;
mod graph;
mod stub;

pub use blocks::{block_macro, import_next};
pub use stub::{stub, stubs_for_unparsed};

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;

use crate::model::{CustomDef, LayerType, Plan, Shape};

pub fn expand(plan: &Plan) -> TokenStream {
    let Plan {
        attrs, vis, name, ..
    } = plan;
    let name_str = name.to_string();
    let external_fields = plan.externals.iter().map(|e| {
        let (field, ty) = (&e.name, &e.ty);
        let doc = format!(
            "`{}`: a `{}`, output {}.",
            e.key,
            quote!(#ty).to_string().replace(' ', ""),
            e.output.text()
        );
        quote!(#[doc = #doc] pub #field: #ty)
    });
    let assertions = plan.externals.iter().map(|e| {
        let ty = &e.ty;
        let (input, output) = (graph::dims(&e.input), graph::dims(&e.output));
        let ty_name = quote!(#ty).to_string().replace(' ', "");
        let input_message = format!(
            "`{}`: `{ty_name}::INPUT` is not {}, the shape flowing into it",
            e.key,
            e.input.text()
        );
        let output_message = format!(
            "`{}`: `{ty_name}::OUTPUT` is not the stated {}",
            e.key,
            e.output.text()
        );
        quote_spanned! {e.name.span()=>
            const _: () = {
                ::core::assert!(::stride::__private::takes(&<#ty>::GRAPH, &#input), #input_message);
                ::core::assert!(::stride::__private::gives(&<#ty>::GRAPH, &#input, &#output), #output_message);
            };
        }
    });
    let customs = plan
        .layers
        .iter()
        .filter_map(|l| l.custom.as_ref().map(custom_assertion));
    let constants = constants(plan);
    let methods = methods(&name_str, &plan.output);
    let accessors = accessors(plan);
    let custom_accessors = custom_accessors(plan);
    let module = module_impls(plan);
    let typed = if plan.sizes.iter().all(|s| s.step == 0) {
        typed(name, &plan.input, &plan.output)
    } else {
        quote! {
            impl ::stride::__private::AnySize for #name {
                const GRAPH: &'static ::stride::__private::Graph = &#name::GRAPH;
            }
        }
    };
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
            __model: ::stride::__private::Model,
            #(#external_fields,)*
        }

        #(#assertions)*
        #(#customs)*

        impl #name {
            #constants
            #methods
            #accessors
            #custom_accessors
        }

        #module
        #typed

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&Self::SUMMARY, f)
            }
        }

        #(#warnings)*
    }
}

/// The constant assertion that a custom layer's shape rule takes the input flowing into it and
/// gives the output the network was checked with.
fn custom_assertion(custom: &CustomDef) -> TokenStream {
    let (label, ty) = (&custom.label, custom.type_text());
    let [c, h, w] = custom.input;
    let [oc, oh, ow] = custom.output;
    let shape = graph::custom_shape(custom);
    quote_spanned! {custom.span=>
        const _: () = ::stride::__private::check_custom_shape(
            #label, #ty, [#c, #h, #w], #shape::OUTPUT, [#oc, #oh, #ow],
        );
    }
}

fn constants(plan: &Plan) -> TokenStream {
    let input = plan.input;
    let output = graph::dims(&plan.output);
    let output_len = plan.output.dims().len();
    let params = graph::total(plan.params, plan, "PARAMS");
    let macs = graph::total(plan.macs, plan, "MACS");
    let graph = graph::graph(plan);
    let (field, jump) = graph::field(plan.field);
    let min = plan.sizes.iter().map(|s| s.min);
    let step = plan.sizes.iter().map(|s| s.step);
    quote! {
        /// The network as data: every layer with its resolved parameters, output shape and
        /// tensors, the fusion groups, the structure joining them, and the summary rows. What
        /// `forward`, loading, saving, `init` and `fuse` run on.
        pub const GRAPH: ::stride::__private::Graph = #graph;
        /// The input shape `[C, H, W]`; any batch size. 0 on an axis that takes many sizes
        /// (a name in the declaration): see [`Self::MIN_INPUT`] and [`Self::INPUT_MULTIPLE`].
        pub const INPUT: [usize; 3] = [#(#input),*];
        /// The smallest input height and width the network takes (its only ones, for a fixed
        /// size).
        pub const MIN_INPUT: [usize; 2] = [#(#min),*];
        /// The step between the input heights and widths the network takes, from
        /// [`Self::MIN_INPUT`]: a U-Net with four halvings and skip connections takes
        /// multiples of 16. 0 for a fixed size.
        pub const INPUT_MULTIPLE: [usize; 2] = [#(#step),*];
        /// The output shape, without the batch dimension; 0 on an axis whose size depends on
        /// the input's ([`Self::output_at`] gives it for one).
        pub const OUTPUT: [usize; #output_len] = #output;
        /// Trainable parameters (batch norm's running statistics are buffers, not counted).
        pub const PARAMS: u64 = #params;
        /// Multiply-adds of the convolutions and linear layers, per sample, at the input
        /// [`Self::MIN_INPUT`] for a network that takes many sizes ([`Self::summary_at`] gives
        /// them at any).
        pub const MACS: u64 = #macs;
        /// The receptive field of one output position `[h, w]`, in input pixels; `None` when a
        /// layer upsamples or sees its whole input.
        pub const RECEPTIVE_FIELD: ::core::option::Option<[usize; 2]> = #field;
        /// The distance in input pixels between neighbouring outputs `[h, w]` (the product of
        /// the strides), where the receptive field is defined.
        pub const JUMP: ::core::option::Option<[usize; 2]> = #jump;
        /// Every layer's kind, output shape, parameters, MACs and receptive field, and the
        /// totals. `Display` prints it as a table.
        pub const SUMMARY: ::stride::__private::Summary = ::stride::__private::Graph::summary(&Self::GRAPH);
    }
}

/// The methods every network has, each handing over to the runtime.
fn methods(name: &str, output: &Shape) -> TokenStream {
    let (out_ty, into) = match output {
        Shape::Map(_) => (
            quote!(::stride::__private::ndarray::Array4<f32>),
            quote!(into_map),
        ),
        Shape::Flat(_) => (
            quote!(::stride::__private::ndarray::Array2<f32>),
            quote!(into_flat),
        ),
    };
    quote! {
        /// Runs the network on a batch `[N, C, H, W]` of any size `N`.
        ///
        /// # Errors
        /// An input whose `C` differs from [`Self::INPUT`], or whose `H` or `W` the network
        /// does not take (naming the layer that refuses it, with the arithmetic and the sizes
        /// it takes).
        pub fn forward(
            &self,
            input: ::stride::__private::ndarray::ArrayView4<'_, f32>,
        ) -> ::core::result::Result<#out_ty, ::stride::__private::Error> {
            ::stride::__private::Module::run(self, input)?.#into(#name)
        }

        /// Runs the network on a batch `[N, C, H, W]` whose height and width the call fixes:
        /// an input size the network does not take is a compile error there, naming the layer
        /// that refuses it with the arithmetic.
        ///
        /// # Errors
        /// An input whose shape is not `[N, C, H, W]`.
        pub fn forward_at<const H: usize, const W: usize>(
            &self,
            input: ::stride::__private::ndarray::ArrayView4<'_, f32>,
        ) -> ::core::result::Result<#out_ty, ::stride::__private::Error> {
            const {
                if let ::core::option::Option::Some(refusal) = Self::GRAPH.refusal([H, W]) {
                    ::core::panic!("{}", refusal.as_str());
                }
            };
            ::stride::__private::check_size(#name, &input, [H, W])?;
            self.forward(input)
        }

        /// The output shape for an input of `height` x `width`, or `None` if the network does
        /// not take that size. For a flat output, the features followed by two zeros.
        pub const fn output_at(height: usize, width: usize) -> ::core::option::Option<[usize; 3]> {
            Self::GRAPH.output_at([height, width])
        }

        /// The summary at an input of `height` x `width`: every layer's output shape and
        /// multiply-adds there.
        ///
        /// # Errors
        /// A size the network does not take, naming the layer that refuses it.
        pub fn summary_at(
            height: usize,
            width: usize,
        ) -> ::core::result::Result<::stride::__private::SummaryAt, ::stride::__private::Error> {
            ::stride::__private::Graph::summary_at(&Self::GRAPH, [height, width])
        }

        /// Loads torchvision-named weights from a safetensors file (memory-mapped) or from a
        /// PyTorch `.pth`/`.pt` file as `torch.save` writes it (told apart by their first
        /// bytes; the pickle is read, never run), strictly: every tensor must be present with
        /// the right shape, and no other tensor may be in the file (BatchNorm's
        /// `num_batches_tracked` is ignored). F16, BF16 and F64 tensors are converted to f32.
        ///
        /// # Errors
        /// Every missing key, unexpected key, wrong shape and wrong dtype at once, or an
        /// unreadable file.
        pub fn load_safetensors(
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
            Self::load_safetensors_with(path, &::stride::__private::LoadOptions::default())
        }

        /// As [`Self::load_safetensors`], with options: a key prefix, key renames (timm's or
        /// another codebase's names to torchvision's), a non-strict mode that ignores the
        /// file's other tensors (to take a stem out of a whole ResNet), and whether to fuse.
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
            ::stride::__private::from_weights(weights, options)
        }

        /// Weights drawn deterministically from `seed`, as torchvision initialises: Kaiming
        /// normal (fan out) for convolutions, batch norm at scale 1 and shift 0, PyTorch's
        /// default uniform for linear layers. The network comes fused.
        pub fn init(seed: u64) -> Self {
            ::stride::__private::init(seed)
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
            ::stride::__private::Module::save_to(self, &mut saver, "")?;
            saver.write(path)
        }

        /// Fuses the network for inference: every batch norm folded into the convolution
        /// before it, and the activation (and residual add) after it applied by that
        /// convolution as it writes its output. Loading and [`Self::init`] fuse by default
        /// (see `LoadOptions::fuse`). The layers' own weights are kept, so call this again
        /// after changing a layer through its accessor.
        ///
        /// # Errors
        /// A batch norm whose width is not its convolution's output channels, which only a
        /// layer replaced through its accessor can cause.
        pub fn fuse(&mut self) -> ::core::result::Result<(), ::stride::__private::Error> {
            ::stride::__private::Module::fuse(self)
        }

        /// Undoes [`Self::fuse`]: `forward` runs every layer on its own again.
        pub fn unfuse(&mut self) {
            ::stride::__private::Module::unfuse(self)
        }

        /// Whether `forward` runs the fused layers.
        pub fn is_fused(&self) -> bool {
            ::stride::__private::Module::is_fused(self)
        }

        /// The network as an ONNX model (opset 17 by default), its weights named by their
        /// checkpoint keys; `options` pick the declared or the fused graph and, for a network
        /// that takes many sizes, the size to write it for.
        ///
        /// # Errors
        /// An opset the export does not write or that a layer needs more than, a size the
        /// network does not take, a layer that can only be written for a known size.
        pub fn to_onnx(
            &self,
            options: &::stride::__private::onnx::ExportOptions,
        ) -> ::core::result::Result<
            ::std::vec::Vec<u8>,
            ::stride::__private::onnx::ExportError,
        > {
            ::stride::__private::onnx::to_onnx(self, options)
        }

        /// Writes [`Self::to_onnx`] to `path`; returns its node count and size.
        ///
        /// # Errors
        /// As [`Self::to_onnx`], and a file that cannot be written.
        pub fn save_onnx(
            &self,
            path: impl ::core::convert::AsRef<::std::path::Path>,
            options: &::stride::__private::onnx::ExportOptions,
        ) -> ::core::result::Result<
            ::stride::__private::onnx::OnnxSummary,
            ::stride::__private::onnx::ExportError,
        > {
            ::stride::__private::onnx::save_onnx(self, path, options)
        }

        /// Writes a Triton Inference Server model repository for the network under `dir`:
        /// `name/config.pbtxt` (the ONNX Runtime backend, the batch and shapes, dynamic
        /// batching and instances as `options` say) and `name/1/model.onnx`.
        ///
        /// # Errors
        /// A name Triton cannot take, a batch size of 0, anything [`Self::save_onnx`] refuses.
        pub fn save_triton_repository(
            &self,
            dir: impl ::core::convert::AsRef<::std::path::Path>,
            name: &str,
            options: &::stride::__private::onnx::TritonOptions,
        ) -> ::core::result::Result<
            ::stride::__private::onnx::OnnxSummary,
            ::stride::__private::onnx::ExportError,
        > {
            ::stride::__private::onnx::save_triton_repository(self, dir, name, options)
        }
    }
}

/// The runtime type of a layer with weights.
fn layer_type(ty: LayerType) -> (TokenStream, Ident) {
    let (ty, get) = match ty {
        LayerType::Conv2d => (quote!(Conv2d), "conv2d"),
        LayerType::ConvTranspose2d => (quote!(ConvTranspose2d), "conv_transpose2d"),
        LayerType::BatchNorm2d => (quote!(BatchNorm2d), "batch_norm2d"),
        LayerType::LayerNorm2d => (quote!(LayerNorm2d), "layer_norm2d"),
        LayerType::LayerScale => (quote!(LayerScale), "layer_scale"),
        LayerType::Linear => (quote!(Linear), "linear"),
    };
    (quote!(::stride::__private::#ty), format_ident!("{get}"))
}

/// `name()` for each custom layer: the user's type.
fn custom_accessors(plan: &Plan) -> TokenStream {
    let accessors = plan.layers.iter().enumerate().filter_map(|(index, layer)| {
        let custom = layer.custom.as_ref()?;
        let (name, ty) = (&layer.name, &custom.ty);
        let doc = format!(
            "`{}`: a custom layer, `{}`, output {}.",
            layer.key,
            custom.type_text(),
            layer.output.text()
        );
        Some(quote! {
            #[doc = #doc]
            #[inline]
            pub fn #name(&self) -> &#ty {
                self.__model.custom_at::<#ty>(#index)
            }
        })
    });
    quote!(#(#accessors)*)
}

/// `name()` and `name_mut()` for each layer with weights.
fn accessors(plan: &Plan) -> TokenStream {
    let accessors = plan.layers.iter().enumerate().filter_map(|(index, layer)| {
        let (ty, get) = layer_type(LayerType::of(&layer.op)?);
        let get_mut = format_ident!("{get}_mut");
        let name = &layer.name;
        let name_mut = format_ident!("{}_mut", syn::ext::IdentExt::unraw(name));
        let doc = format!(
            "`{}`: {}, output {}.",
            layer.key,
            layer.kind,
            layer.output.text()
        );
        let doc_mut = format!(
            "`{}`, to change: a fused network keeps its fused layers until [`Self::fuse`] runs again.",
            layer.key
        );
        Some(quote! {
            #[doc = #doc]
            #[inline]
            pub fn #name(&self) -> &#ty {
                self.__model.#get(#index)
            }

            #[doc = #doc_mut]
            #[inline]
            pub fn #name_mut(&mut self) -> &mut #ty {
                self.__model.#get_mut(#index)
            }
        })
    });
    quote!(#(#accessors)*)
}

/// `Module` and `Build`: what the runtime needs of the network.
fn module_impls(plan: &Plan) -> TokenStream {
    let name = &plan.name;
    let fields: Vec<&Ident> = plan.externals.iter().map(|e| &e.name).collect();
    let types: Vec<&syn::Path> = plan.externals.iter().map(|e| &e.ty).collect();
    let keys: Vec<String> = plan
        .externals
        .iter()
        .map(|e| format!("{}.", e.key))
        .collect();
    let locals: Vec<Ident> = (0..fields.len())
        .map(|i| format_ident!("__external_{i}"))
        .collect();
    let indices = 0..plan.externals.len();
    let externals = if fields.is_empty() {
        quote!()
    } else {
        quote! {
            fn externals(&self) -> ::std::vec::Vec<&dyn ::stride::__private::Module> {
                ::std::vec![#(&self.#fields as &dyn ::stride::__private::Module),*]
            }

            fn externals_mut(&mut self) -> ::std::vec::Vec<&mut dyn ::stride::__private::Module> {
                ::std::vec![#(&mut self.#fields as &mut dyn ::stride::__private::Module),*]
            }
        }
    };
    quote! {
        impl ::stride::__private::Module for #name {
            fn model(&self) -> &::stride::__private::Model {
                &self.__model
            }

            fn model_mut(&mut self) -> &mut ::stride::__private::Model {
                &mut self.__model
            }

            #externals
        }

        impl ::stride::__private::Build for #name {
            fn take(
                loader: &mut ::stride::__private::Loader<'_>,
                prefix: &str,
            ) -> ::core::result::Result<::core::option::Option<Self>, ::stride::__private::Error> {
                let __model = ::stride::__private::Model::take(&Self::GRAPH, loader, prefix)?;
                #(
                    let #locals = <#types as ::stride::__private::Build>::take(
                        loader,
                        &::std::format!("{}{}", prefix, #keys),
                    )?;
                )*
                ::core::result::Result::Ok(match (__model, #(#locals,)*) {
                    (::core::option::Option::Some(__model), #(::core::option::Option::Some(#locals),)*) => {
                        ::core::option::Option::Some(Self { __model, #(#fields: #locals,)* })
                    }
                    _ => ::core::option::Option::None,
                })
            }

            fn seeded(seed: u64) -> Self {
                Self {
                    __model: ::stride::__private::Model::init(&Self::GRAPH, seed),
                    #(#fields: <#types as ::stride::__private::Build>::seeded(
                        seed.wrapping_add(Self::GRAPH.externals[#indices].seed_offset),
                    ),)*
                }
            }
        }
    }
}

/// The typenum-shaped forward, through which networks compose.
fn typed(name: &Ident, input: &[usize; 3], output: &Shape) -> TokenStream {
    let shape_type = |shape: &Shape| {
        let dims = shape.dims().into_iter().map(unsigned);
        match shape {
            Shape::Map(_) => quote!(::stride::__private::Chw<#(#dims),*>),
            Shape::Flat(_) => quote!(::stride::__private::Flat<#(#dims),*>),
        }
    };
    let input = shape_type(&Shape::Map(*input));
    let output = shape_type(output);
    quote! {
        impl ::stride::__private::Network for #name {
            type Input = #input;
            type Output = #output;

            fn forward_typed(
                &self,
                x: ::stride::__private::Tensor<Self::Input>,
            ) -> ::stride::__private::Tensor<Self::Output> {
                match self.forward(x.view()) {
                    ::core::result::Result::Ok(y) => ::stride::__private::Tensor::__from_checked(y),
                    ::core::result::Result::Err(e) => ::core::panic!("the input's shape was checked by its type: {e}"),
                }
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
