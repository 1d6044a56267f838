//! The `network!` macro of stride. Depend on the `stride` crate, which re-exports it and
//! documents the language.

mod args;
mod check;
mod ctxt;
mod expand;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Declares a network whose every shape is checked at compile time. See `stride::network!`
/// for the language.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let invocation = syn::parse_macro_input!(input as parse::Invocation);
    let checked = check::check(invocation);
    let mut out = proc_macro2::TokenStream::new();
    if let Err(errors) = checked.errors {
        out.extend(errors.into_compile_error());
    }
    for plan in &checked.plans {
        out.extend(expand::expand(plan));
    }
    for (attrs, vis, name) in &checked.failed {
        out.extend(expand::fallback(attrs, vis, name));
    }
    out.into()
}
