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
    let def = syn::parse_macro_input!(input as parse::NetworkDef);
    // `check` consumes the definition; keep what the fallback needs.
    let stub = def.header();
    match check::check(def) {
        Ok(plan) => expand::expand(&plan).into(),
        Err(errors) => expand::fallback(&stub, errors).into(),
    }
}
