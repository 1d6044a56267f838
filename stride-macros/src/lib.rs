//! The `network!` macro of stride. Depend on the `stride` crate, which re-exports it and
//! documents the language.
//!
//! `parse` reads the grammar, `check` applies every rule (each layer kind's from the catalog
//! in `kinds`) and lays the network out, `expand` writes it down as a graph and a typed shell.

mod args;
mod check;
mod ctxt;
mod expand;
#[cfg(test)]
mod fuzz;
mod kinds;
mod model;
mod parse;

use proc_macro::TokenStream;

/// Declares a network whose every shape is checked at compile time. See `stride::network!`
/// for the language.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand_tokens(input.into()).into()
}

/// The macro on `proc_macro2` tokens: what `network!` expands to, `compile_error!`s included.
/// Never panics, on any tokens (the fuzz test in `fuzz.rs` drives it with mutated ones).
fn expand_tokens(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    if let Err(error) = parse::check_nesting(&input) {
        return error.into_compile_error();
    }
    let invocation = match syn::parse2::<parse::Invocation>(input.clone()) {
        Ok(invocation) => invocation,
        Err(error) => {
            let mut out = error.into_compile_error();
            out.extend(expand::stubs_for_unparsed(input));
            return out;
        }
    };
    if let Some(import) = expand::import_next(&invocation) {
        return import;
    }
    let checked = check::check(invocation);
    let mut out = proc_macro2::TokenStream::new();
    if let Err(errors) = checked.errors {
        out.extend(errors.into_compile_error());
    }
    out.extend(checked.plans.iter().map(expand::expand));
    out.extend(checked.stubs.iter().map(expand::stub));
    out.extend(checked.blocks.iter().map(expand::block_macro));
    out
}
