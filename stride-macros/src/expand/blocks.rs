//! Blocks across invocations. Every block gets a macro that hands its declaration back to
//! `network!`: an invocation that says `use path::Block;` calls it with the rest of its tokens,
//! and `network!` runs again with the block imported (`@import`), as if declared there.
//!
//! The macro is `__stride_block_Name`, re-exported as `Name` with the block's visibility (at
//! most `pub(crate)`, the widest a `macro_rules` re-export can have), so that `use
//! crate::blocks::Name;` (or a relative path) finds it; a `#[export] pub block` is also exported
//! at its crate's root for other crates, as `__stride_export_Name`, which `use
//! ::other_crate::Name;` reaches (a macro made by a macro cannot be re-exported under its own
//! name in its own crate, and another crate cannot see a `pub(crate)` re-export: hence the two
//! routes, told apart by the leading `::` that Rust gives a path into another crate). The root
//! is one namespace, so export is asked for: two `pub block ConvBn` in two modules of one crate
//! are fine, two exported ones are not.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Visibility;

use crate::check::Exported;
use crate::parse::{Invocation, Item};

/// The macros of a block declared in this invocation.
pub fn block_macro(block: &Exported) -> TokenStream {
    let Exported {
        vis,
        name,
        tokens,
        uses,
        export,
    } = block;
    let local = format_ident!("__stride_block_{}", name);
    let body = quote! {
        ($($rest:tt)*) => {
            ::stride::network! { #(#uses)* @import { #tokens } $($rest)* }
        };
    };
    let (reexport, export) = match vis {
        Visibility::Public(_) if *export => {
            let exported = format_ident!("__stride_export_{}", name);
            (
                quote!(pub(crate)),
                quote! {
                    #[doc(hidden)]
                    #[macro_export]
                    macro_rules! #exported { #body }
                },
            )
        }
        Visibility::Public(_) => (quote!(pub(crate)), quote!()),
        Visibility::Restricted(_) => (quote!(#vis), quote!()),
        Visibility::Inherited => (quote!(), quote!()),
    };
    quote! {
        #[doc(hidden)]
        #[allow(unused_macros)]
        macro_rules! #local { #body }
        #[doc(hidden)]
        #[allow(unused_imports)]
        #reexport use #local as #name;
        #export
    }
}

/// When the invocation brings in a block with `use`, the call of that block's macro with the
/// rest of the invocation: `network!` then runs again with the block declared. `None` once
/// every `use` is resolved.
pub fn import_next(invocation: &Invocation) -> Option<TokenStream> {
    let at = invocation
        .items
        .iter()
        .position(|item| matches!(item, Item::Use(_)))?;
    let Item::Use(import) = &invocation.items[at] else {
        unreachable!("found at this position")
    };
    let path = &import.path;
    let name = import.name();
    let span = name.span();
    let callee = if path.leading_colon.is_none() {
        // A block of this crate: its re-export, by the path the user wrote.
        quote_spanned!(span=> #path)
    } else {
        // `::other_crate::…::Block`: another crate's block, exported at its root.
        let krate = &path.segments[0].ident;
        let exported = format_ident!("__stride_export_{}", name, span = span);
        quote_spanned!(span=> ::#krate::#exported)
    };
    let rest = invocation
        .tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, tokens)| tokens);
    Some(quote_spanned! {span=> #callee! { #(#rest)* } })
}
