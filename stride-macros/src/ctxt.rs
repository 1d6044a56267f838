//! Error collection: every check reports here and checking goes on, so that one build shows
//! every mistake (serde_derive's `Ctxt`).

use proc_macro2::Span;

/// The errors found so far.
#[derive(Default)]
pub struct Ctxt {
    errors: Option<syn::Error>,
    count: usize,
    /// Inside a block instance: where its shape errors are reported (the instance's call),
    /// since the block's own tokens are right for other instances.
    redirect: Option<Span>,
}

impl Ctxt {
    /// Records an error at `span`.
    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error about a shape at `span`, or at the block instance being checked.
    pub fn shape_error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(self.shape_span(span), message));
    }

    /// Where a shape error or lint at `span` is reported: there, or at the block instance.
    pub fn shape_span(&self, span: Span) -> Span {
        self.redirect.unwrap_or(span)
    }

    /// Records an error spanning `tokens` (first to last token, which works on stable Rust
    /// where spans cannot be joined).
    pub fn error_spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn push(&mut self, error: syn::Error) {
        self.count += 1;
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// How many errors were recorded so far.
    pub fn error_count(&self) -> usize {
        self.count
    }

    /// Reports shape errors at `span` until [`Ctxt::restore`]; returns what to restore. The
    /// outermost instance wins, as it is the one written in the network.
    pub fn redirect(&mut self, span: Span) -> Option<Span> {
        let previous = self.redirect;
        if previous.is_none() {
            self.redirect = Some(span);
        }
        previous
    }

    /// Ends a [`Ctxt::redirect`].
    pub fn restore(&mut self, previous: Option<Span>) {
        self.redirect = previous;
    }

    /// All errors as one, or `Ok` if there were none.
    pub fn finish(self) -> syn::Result<()> {
        match self.errors {
            Some(errors) => Err(errors),
            None => Ok(()),
        }
    }
}
