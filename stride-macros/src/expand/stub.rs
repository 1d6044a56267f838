//! The stub of a network that did not check (or did not parse): the declared type with every
//! constant and method the real one has, so that code using the network adds no errors of its
//! own to the macro's. Its methods are never meant to run: the build has already failed.

use std::collections::HashSet;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Attribute, Visibility};

use crate::check::is_generated;
use crate::kinds::CATALOG;
use crate::model::{LayerType, Stub};
use crate::parse::is_passed_on;

/// The stub of a network whose checks failed.
pub fn stub(stub: &Stub) -> TokenStream {
    let Stub {
        attrs,
        vis,
        name,
        input,
        flat,
        ..
    } = stub;
    let span = Span::call_site();
    let name_str = name.to_string();
    let message = format!("`{name}` did not compile: see the errors `network!` reported");
    let [c, h, w] = input.unwrap_or([0; 3]);
    let (output_len, out_ty) = if *flat {
        (1usize, quote!(::stride::__private::ndarray::Array2<f32>))
    } else {
        (3, quote!(::stride::__private::ndarray::Array4<f32>))
    };
    let mut names = HashSet::new();
    let accessors = stub.accessors.iter().filter_map(|(layer, ty)| {
        // Only the accessors the real network could have: the checks report the others.
        let text = layer.unraw().to_string();
        let mutable = format!("{text}_mut");
        let clashes = text.starts_with("__") || is_generated(&text) || is_generated(&mutable);
        if clashes || !names.insert(text.clone()) || !names.insert(mutable) {
            return None;
        }
        let ty = match ty {
            LayerType::Conv2d => quote!(Conv2d),
            LayerType::ConvTranspose2d => quote!(ConvTranspose2d),
            LayerType::BatchNorm2d => quote!(BatchNorm2d),
            LayerType::LayerNorm2d => quote!(LayerNorm2d),
            LayerType::LayerScale => quote!(LayerScale),
            LayerType::Linear => quote!(Linear),
        };
        let layer_mut = format_ident!("{text}_mut");
        Some(quote_spanned! {span=>
            pub fn #layer(&self) -> &::stride::__private::#ty {
                ::core::unimplemented!(#message)
            }
            pub fn #layer_mut(&mut self) -> &mut ::stride::__private::#ty {
                ::core::unimplemented!(#message)
            }
        })
    });
    // Collected here: the custom layers' accessors below take their names from the same set.
    let accessors: Vec<TokenStream> = accessors.collect();
    let customs = stub.customs.iter().filter_map(|(layer, ty)| {
        let text = layer.unraw().to_string();
        let mutable = format!("{text}_mut");
        let clashes = text.starts_with("__") || is_generated(&text) || is_generated(&mutable);
        if clashes || !names.insert(text) || !names.insert(mutable) {
            return None;
        }
        Some(quote_spanned! {span=>
            pub fn #layer(&self) -> &#ty {
                ::core::unimplemented!(#message)
            }
        })
    });
    let mut fields = HashSet::new();
    let externals = stub
        .externals
        .iter()
        .filter(|(field, _)| fields.insert(field.to_string()))
        .map(|(field, ty)| quote!(pub #field: #ty));
    quote_spanned! {span=>
        #(#attrs)*
        #[allow(dead_code)]
        #vis struct #name {
            #(#externals,)*
        }

        #[allow(dead_code, unused_variables, missing_docs, clippy::unused_self)]
        impl #name {
            pub const GRAPH: ::stride::__private::Graph = ::stride::__private::Graph {
                output: &[0; #output_len],
                ..::stride::__private::Graph::new(#name_str, [#c, #h, #w])
            };
            pub const INPUT: [usize; 3] = [#c, #h, #w];
            pub const MIN_INPUT: [usize; 2] = [#h, #w];
            pub const INPUT_MULTIPLE: [usize; 2] = [0; 2];
            pub const OUTPUT: [usize; #output_len] = [0; #output_len];
            pub const PARAMS: u64 = 0;
            pub const MACS: u64 = 0;
            pub const RECEPTIVE_FIELD: ::core::option::Option<[usize; 2]> = ::core::option::Option::None;
            pub const JUMP: ::core::option::Option<[usize; 2]> = ::core::option::Option::None;
            pub const SUMMARY: ::stride::__private::Summary = ::stride::__private::Graph::summary(&Self::GRAPH);

            pub fn forward(
                &self,
                input: ::stride::__private::ndarray::ArrayView4<'_, f32>,
            ) -> ::core::result::Result<#out_ty, ::stride::__private::Error> {
                ::core::unimplemented!(#message)
            }
            pub fn forward_at<const H: usize, const W: usize>(
                &self,
                input: ::stride::__private::ndarray::ArrayView4<'_, f32>,
            ) -> ::core::result::Result<#out_ty, ::stride::__private::Error> {
                ::core::unimplemented!(#message)
            }
            pub const fn output_at(height: usize, width: usize) -> ::core::option::Option<[usize; 3]> {
                ::core::option::Option::None
            }
            pub fn summary_at(
                height: usize,
                width: usize,
            ) -> ::core::result::Result<::stride::__private::SummaryAt, ::stride::__private::Error> {
                ::core::unimplemented!(#message)
            }
            pub fn load_safetensors(
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
                ::core::unimplemented!(#message)
            }
            pub fn load_safetensors_with(
                path: impl ::core::convert::AsRef<::std::path::Path>,
                options: &::stride::__private::LoadOptions,
            ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
                ::core::unimplemented!(#message)
            }
            pub fn from_weights(
                weights: &::stride::__private::Weights,
                options: &::stride::__private::LoadOptions,
            ) -> ::core::result::Result<Self, ::stride::__private::LoadError> {
                ::core::unimplemented!(#message)
            }
            pub fn init(seed: u64) -> Self {
                ::core::unimplemented!(#message)
            }
            pub fn save_safetensors(
                &self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
            ) -> ::core::result::Result<(), ::stride::__private::SaveError> {
                ::core::unimplemented!(#message)
            }
            pub fn fuse(&mut self) -> ::core::result::Result<(), ::stride::__private::Error> {
                ::core::unimplemented!(#message)
            }
            pub fn unfuse(&mut self) {
                ::core::unimplemented!(#message)
            }
            pub fn is_fused(&self) -> bool {
                ::core::unimplemented!(#message)
            }
            pub fn to_onnx(
                &self,
                options: &::stride::__private::onnx::ExportOptions,
            ) -> ::core::result::Result<
                ::std::vec::Vec<u8>,
                ::stride::__private::onnx::ExportError,
            > {
                ::core::unimplemented!(#message)
            }
            pub fn save_onnx(
                &self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
                options: &::stride::__private::onnx::ExportOptions,
            ) -> ::core::result::Result<
                ::stride::__private::onnx::OnnxSummary,
                ::stride::__private::onnx::ExportError,
            > {
                ::core::unimplemented!(#message)
            }
            pub fn save_triton_repository(
                &self,
                dir: impl ::core::convert::AsRef<::std::path::Path>,
                name: &str,
                options: &::stride::__private::onnx::TritonOptions,
            ) -> ::core::result::Result<
                ::stride::__private::onnx::OnnxSummary,
                ::stride::__private::onnx::ExportError,
            > {
                ::core::unimplemented!(#message)
            }
            #(#accessors)*
            #(#customs)*
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&Self::SUMMARY, f)
            }
        }
    }
}

/// Stubs for the networks of an invocation that did not parse, found by scanning its tokens
/// for `struct Name`: what a parse error leaves to go on.
pub fn stubs_for_unparsed(input: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let mut out = TokenStream::new();
    let mut seen = HashSet::new();
    let mut attrs = TokenStream::new();
    let mut vis = TokenStream::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(g)) = tokens.get(i + 1) {
                    attrs.extend([tokens[i].clone(), TokenTree::Group(g.clone())]);
                    i += 2;
                    continue;
                }
            }
            TokenTree::Ident(id) if id == "pub" => {
                vis = TokenStream::from(tokens[i].clone());
                if let Some(TokenTree::Group(g)) = tokens.get(i + 1) {
                    if g.delimiter() == Delimiter::Parenthesis {
                        vis.extend([tokens[i + 1].clone()]);
                        i += 1;
                    }
                }
                i += 1;
                continue;
            }
            TokenTree::Ident(id) if id == "struct" => {
                if let Some(TokenTree::Ident(name)) = tokens.get(i + 1) {
                    // Only a name a struct can have: not a keyword, not `_`.
                    let usable =
                        syn::parse2::<syn::Ident>(TokenTree::Ident(name.clone()).into()).is_ok();
                    if usable && seen.insert(name.to_string()) {
                        let rest = &tokens[i + 2..];
                        out.extend(stub(&Stub {
                            attrs: outer_attributes(std::mem::take(&mut attrs)),
                            vis: syn::parse2::<Visibility>(std::mem::take(&mut vis))
                                .unwrap_or(Visibility::Inherited),
                            name: name.clone(),
                            input: input_shape(rest),
                            flat: body(rest).is_some_and(flattens),
                            accessors: Vec::new(),
                            customs: Vec::new(),
                            externals: Vec::new(),
                        }));
                    }
                }
            }
            _ => {}
        }
        attrs = TokenStream::new();
        vis = TokenStream::new();
        i += 1;
    }
    out
}

/// The attributes for the struct among `tokens` (`#[…]` each): those a network passes on, so
/// that an attribute the parser refused does not bring a second error of rustc's.
fn outer_attributes(tokens: TokenStream) -> Vec<Attribute> {
    syn::parse::Parser::parse2(Attribute::parse_outer, tokens)
        .unwrap_or_default()
        .into_iter()
        .filter(is_passed_on)
        .collect()
}

/// `: [C, H, W]` at the start of `rest`, if it is three whole numbers of at least 1.
fn input_shape(rest: &[TokenTree]) -> Option<[usize; 3]> {
    let (Some(TokenTree::Punct(colon)), Some(TokenTree::Group(shape))) =
        (rest.first(), rest.get(1))
    else {
        return None;
    };
    if colon.as_char() != ':' || shape.delimiter() != Delimiter::Bracket {
        return None;
    }
    let dims: Vec<usize> = shape
        .stream()
        .into_iter()
        .filter(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
        .map(|t| match t {
            TokenTree::Literal(l) => l.to_string().parse().ok().filter(|&n: &usize| n > 0),
            _ => None,
        })
        .collect::<Option<_>>()?;
    dims.try_into().ok()
}

/// The network's body, the first braces after its name.
fn body(rest: &[TokenTree]) -> Option<TokenStream> {
    rest.iter().find_map(|t| match t {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g.stream()),
        _ => None,
    })
}

/// Whether a body names a kind whose output is flat.
fn flattens(body: TokenStream) -> bool {
    body.into_iter().any(|t| match t {
        TokenTree::Ident(id) => CATALOG.iter().any(|k| k.flattens && id == k.name),
        TokenTree::Group(g) => flattens(g.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_that_does_not_parse_gets_a_stub_with_its_input_and_a_flat_output() {
        let tokens: TokenStream =
            "/// Doc.\n#[sequential] pub struct Net: [3, 32, 32] { fc: linear(10) oops }"
                .parse()
                .unwrap();
        let out = stubs_for_unparsed(tokens).to_string();
        assert!(out.contains("pub struct Net"), "{out}");
        assert!(out.contains("[3usize , 32usize , 32usize]"), "{out}");
        assert!(out.contains("Array2"), "{out}");
        assert!(!out.contains("sequential"), "{out}");
    }
}
