//! The grammar of `network!`: syntax only. Which layer kinds and parameters exist, and what
//! their values mean, is decided in `check.rs`, so that one invocation can report every
//! mistake at once.
//!
//! ```text
//! network   := attribute* visibility "struct" NAME ":" shape "{" layer,* "}"
//! shape     := "[" value,* "]"                       -- [C, H, W]
//! layer     := attribute* NAME ":" KIND ( "(" arg,* ")" )?
//! arg       := value ( "=>" value )?                  -- positional, or `in => out`
//!            | NAME "=" value                         -- named parameter
//! value     := "-"? INT | "-"? FLOAT | "true" | "false" | NAME | "(" value,* ")"
//! ```

use std::str::FromStr;

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Visibility, bracketed, parenthesized};

/// A whole `network!` invocation.
pub struct NetworkDef {
    /// Doc comments and other attributes to put on the struct.
    pub attrs: Vec<Attribute>,
    /// Attributes addressed to the macro (`#[sequential]`, `#[lints(..)]`, `#[strict]`).
    pub config: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    /// The input shape as written, checked in `check.rs`.
    pub input: Vec<Value>,
    /// The span of the input shape's brackets.
    pub input_span: Span,
    pub layers: Vec<LayerDef>,
}

impl NetworkDef {
    /// The attributes, visibility and name, without shape or layers (for the error fallback).
    pub fn header(&self) -> NetworkDef {
        NetworkDef {
            attrs: self.attrs.clone(),
            config: Vec::new(),
            vis: self.vis.clone(),
            name: self.name.clone(),
            input: Vec::new(),
            input_span: self.input_span,
            layers: Vec::new(),
        }
    }
}

/// One `name: kind(args)` line.
pub struct LayerDef {
    /// Attributes on the layer (`#[key = "…"]`, doc comments).
    pub attrs: Vec<Attribute>,
    pub name: Ident,
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// The span of the argument list, or of the kind when there is none.
    pub args_span: Span,
}

/// One argument in a layer's parentheses.
pub enum Arg {
    /// A value without a name: the out channels of a conv, a pool's kernel, ….
    Positional(Value),
    /// `in => out`: stated input and output channels or features.
    InOut(Value, Value),
    /// `name = value`.
    Named(Ident, Value),
}

/// A literal value as written, with its span.
#[derive(Clone)]
pub enum Value {
    /// An integer literal; `text` keeps it as written for error messages.
    Int { text: String, span: Span },
    /// A floating-point literal.
    Float { text: String, span: Span },
    /// A negated literal (`-1`, `-0.5`), refused wherever a size is expected. `tokens` keeps
    /// the minus and the literal, so an error can underline both.
    Negative {
        text: String,
        span: Span,
        tokens: proc_macro2::TokenStream,
    },
    /// `true` or `false`.
    Bool { value: bool, span: Span },
    /// A bare name: `same`, `valid`, `bilinear`, ….
    Name(Ident),
    /// `(a, b, …)`.
    Tuple { items: Vec<Value>, span: Span },
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::Negative { span, .. }
            | Value::Bool { span, .. }
            | Value::Tuple { span, .. } => *span,
            Value::Name(ident) => ident.span(),
        }
    }

    /// The value as the user wrote it, for error messages.
    pub fn text(&self) -> String {
        match self {
            Value::Int { text, .. } | Value::Float { text, .. } | Value::Negative { text, .. } => {
                text.clone()
            }
            Value::Bool { value, .. } => value.to_string(),
            Value::Name(ident) => ident.to_string(),
            Value::Tuple { items, .. } => {
                let items: Vec<String> = items.iter().map(Value::text).collect();
                format!("({})", items.join(", "))
            }
        }
    }
}

impl Parse for NetworkDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attrs = Vec::new();
        let mut config = Vec::new();
        for attr in input.call(Attribute::parse_outer)? {
            if is_config(&attr) {
                config.push(attr);
            } else {
                attrs.push(attr);
            }
        }
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let lookahead = input.lookahead1();
        if !lookahead.peek(Token![:]) {
            return Err(syn::Error::new(
                input.span(),
                format!(
                    "expected `:` and the input shape after `{name}`, as in `struct {name}: [3, 224, 224]`"
                ),
            ));
        }
        input.parse::<Token![:]>()?;
        if !input.peek(syn::token::Bracket) {
            return Err(syn::Error::new(
                input.span(),
                "expected the input shape `[C, H, W]`, as in `[3, 224, 224]`",
            ));
        }
        let content;
        let brackets = bracketed!(content in input);
        let shape = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
        let body;
        syn::braced!(body in input);
        let layers = Punctuated::<LayerDef, Token![,]>::parse_terminated(&body)?;
        Ok(NetworkDef {
            attrs,
            config,
            vis,
            name,
            input: shape.into_iter().collect(),
            input_span: brackets.span.join(),
            layers: layers.into_iter().collect(),
        })
    }
}

/// Whether an attribute is addressed to the macro rather than to the generated struct.
fn is_config(attr: &Attribute) -> bool {
    ["sequential", "lints", "strict"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

impl Parse for LayerDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let kind: Ident = input.parse()?;
        let (args, args_span) = if input.peek(syn::token::Paren) {
            let content;
            let parens = parenthesized!(content in input);
            let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
            (args.into_iter().collect(), parens.span.join())
        } else {
            (Vec::new(), kind.span())
        };
        Ok(LayerDef {
            attrs,
            name,
            kind,
            args,
            args_span,
        })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![=>]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Arg::Named(name, input.parse()?));
        }
        let value: Value = input.parse()?;
        if input.peek(Token![=>]) {
            input.parse::<Token![=>]>()?;
            return Ok(Arg::InOut(value, input.parse()?));
        }
        Ok(Arg::Positional(value))
    }
}

impl Parse for Value {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        if lookahead.peek(Token![-]) {
            let minus: Token![-] = input.parse()?;
            let literal: Value = input.parse()?;
            return match literal {
                Value::Int { text, span } | Value::Float { text, span } => {
                    let literal = proc_macro2::Literal::from_str(&text)
                        .map_err(|_| syn::Error::new(span, "expected a number after `-`"))?;
                    let mut literal = literal;
                    literal.set_span(span);
                    Ok(Value::Negative {
                        text: format!("-{text}"),
                        span: minus.span,
                        tokens: quote::quote!(#minus #literal),
                    })
                }
                other => Err(syn::Error::new(other.span(), "expected a number after `-`")),
            };
        }
        if lookahead.peek(syn::LitInt) {
            let lit: syn::LitInt = input.parse()?;
            return Ok(Value::Int {
                text: lit.to_string(),
                span: lit.span(),
            });
        }
        if lookahead.peek(syn::LitFloat) {
            let lit: syn::LitFloat = input.parse()?;
            return Ok(Value::Float {
                text: lit.to_string(),
                span: lit.span(),
            });
        }
        if lookahead.peek(syn::LitBool) {
            let lit: syn::LitBool = input.parse()?;
            return Ok(Value::Bool {
                value: lit.value,
                span: lit.span(),
            });
        }
        if lookahead.peek(syn::LitStr) {
            // `"same"` reads like PyTorch; accept it as the bare name.
            let lit: LitStr = input.parse()?;
            return match syn::parse_str::<Ident>(&lit.value()) {
                Ok(ident) => Ok(Value::Name(Ident::new(&ident.to_string(), lit.span()))),
                Err(_) => Err(syn::Error::new(
                    lit.span(),
                    "expected a name, as `same` or `bilinear`",
                )),
            };
        }
        if lookahead.peek(Ident) {
            return Ok(Value::Name(input.parse()?));
        }
        if lookahead.peek(syn::token::Paren) {
            let content;
            let parens = parenthesized!(content in input);
            let items = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
            return Ok(Value::Tuple {
                items: items.into_iter().collect(),
                span: parens.span.join(),
            });
        }
        Err(lookahead.error())
    }
}
