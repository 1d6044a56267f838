//! The grammar of `network!`: syntax only. Which layer kinds and parameters exist, and what
//! their values mean, is decided in `check.rs`, so that one invocation can report every
//! mistake at once.
//!
//! ```text
//! invocation := item*
//! item       := attribute* visibility "struct" NAME ":" shape "{" entry,* "}"
//!             | attribute* visibility "block" NAME "(" param,* ")" "{" entry,* "}"
//!             | "use" PATH ";"                         -- a block of another invocation
//!             | "@import" "{" item "}"                 -- a block handed back by its macro
//! shape      := "[" value,* "]"                        -- [C, H, W]
//! param      := NAME ( "=" value )?                    -- a block parameter and its default
//! entry      := attribute* NAME ":" target             -- a named layer, block or sequence
//!             | "residual" "{" entry,* "}" ( "shortcut" NAME ":" target )?
//!             | "concat" "{" branch,* "}"              -- a concat whose keys stay in the scope
//!             | "scale" "{" entry,* "}"                -- the input times a gate of its own
//! target     := KIND ( "(" arg,* ")" )?                -- a layer, or an instance of a block
//!             | "[" item,* "]"                         -- numbered like nn.Sequential
//!             | "[" target ";" INT "]"                 -- INT copies of one target
//!             | "concat" "{" branch,* "}"              -- branches joined along channels
//!             | "scale" "{" entry,* "}"                -- the input times the entries' output
//!             | "{" entry,* "}"                        -- named entries under the name's key
//!             | PATH "=>" shape                        -- a network from another invocation
//!             | "custom" "(" TYPE ( "," arg )* ")"     -- a layer of one's own
//! item       := target | ".." "[" target ";" INT "]"   -- one target, or copies of one
//! branch     := NAME ":" target                        -- a branch with a key of its own
//!             | "{" entry,* "}"                        -- entries keyed in the concat's scope
//! arg        := value ( "=>" value )?                  -- positional, or `in => out`
//!             | NAME "=" value                         -- named parameter
//! value      := term ( ("+" | "-") term )*            -- arithmetic on whole numbers
//! term       := atom ( ("*" | "/") atom )*
//! atom       := "-"? INT | "-"? FLOAT | "true" | "false" | NAME | "(" value,* ")"
//! ```

use std::str::FromStr;

use proc_macro2::{Span, TokenStream};
use syn::buffer::Cursor;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Visibility, bracketed, parenthesized};

/// A whole `network!` invocation: networks and the blocks they use.
pub struct Invocation {
    pub items: Vec<Item>,
    /// Each item's tokens as written, in order: what the invocation hands on when a block from
    /// another invocation is brought in.
    pub tokens: Vec<TokenStream>,
}

/// A declaration in an invocation.
pub enum Item {
    Network(NetworkDef),
    Block(BlockDef),
    /// `use path::Block;`: a block declared in another invocation, brought into this one.
    Use(UseBlock),
}

/// `use path::to::Block;` inside an invocation.
pub struct UseBlock {
    pub path: syn::Path,
}

impl UseBlock {
    /// The block's name: the path's last segment.
    pub fn name(&self) -> &Ident {
        &self
            .path
            .segments
            .last()
            .expect("a parsed path has a segment")
            .ident
    }
}

/// A network: `struct Name: [C, H, W] { … }`.
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
    pub entries: Vec<Entry>,
}

/// A reusable block: `block Name(param, param = default) { … }`, expanded in place wherever a
/// network instantiates it, and checked there.
pub struct BlockDef {
    pub config: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub params: Vec<BlockParam>,
    pub entries: Vec<Entry>,
    /// Brought in from another invocation (`@import`, which its `use` produced): checked
    /// where it was declared, so its own errors are not reported again here.
    pub imported: bool,
}

/// A block parameter: a name, and a default value if it has one.
pub struct BlockParam {
    pub name: Ident,
    pub default: Option<Value>,
}

/// One line of a network or block body.
#[derive(Clone)]
pub enum Entry {
    /// `name: target`.
    Named {
        attrs: Vec<Attribute>,
        name: Ident,
        target: Target,
    },
    /// `residual { … } shortcut name: target`: the entries' output plus the entry's input,
    /// passed through the shortcut when the entries change its shape.
    Residual {
        token: Ident,
        main: Vec<Entry>,
        shortcut: Option<(Ident, Target)>,
    },
    /// `concat { … }` without a name: branches joined along channels, whose layers are keyed
    /// in the enclosing scope (as DenseNet's layers are, whose module concatenates in its
    /// `forward`).
    Concat { token: Ident, branches: Vec<Branch> },
    /// `scale { … }` without a name: the input multiplied by the entries' output, a gate of
    /// one value per channel (squeeze-excitation), its layers keyed in the enclosing scope (as
    /// torchvision's `SqueezeExcitation` keys `fc1` and `fc2`).
    Scale { token: Ident, gate: Vec<Entry> },
}

/// One branch of a concat.
#[derive(Clone)]
pub enum Branch {
    /// `name: target`: keyed under `name`.
    Named(Ident, Target),
    /// `{ entries }`: entries keyed in the concat's own scope.
    Inline { brace: Span, entries: Vec<Entry> },
}

/// What a named entry is.
#[derive(Clone)]
pub enum Target {
    /// `kind(args)`: a layer, or an instance of a block or of an earlier network.
    Call(Call),
    /// `[a, b, …]`: targets numbered `name.0`, `name.1`, … as `nn.Sequential` numbers them.
    Sequence { items: Vec<Target> },
    /// `Type => [C, H, W]`: a network declared in another invocation, used as a layer. The
    /// macro cannot see its shapes, so the output is stated, and both ends are checked by
    /// constant assertions against the network's `INPUT` and `OUTPUT`.
    External {
        ty: syn::Path,
        output: Vec<Value>,
        output_span: Span,
    },
    /// `concat { a: …, b: … }`: branches from the same input, joined along channels.
    Concat { token: Ident, branches: Vec<Branch> },
    /// `scale { … }`: the input multiplied by the entries' output.
    Scale { token: Ident, gate: Vec<Entry> },
    /// `custom(Type, channels = 128)`: a layer of one's own, a type implementing the
    /// runtime's `CustomLayer`. The macro cannot run its shape rule, so the output is stated
    /// (the input's shape, or other channels), and checked against the rule by a constant
    /// assertion.
    Custom(Box<Custom>),
    /// `{ a: …, b: … }`: entries one after the other, keyed under the entry's name (an
    /// `nn.Sequential` of named modules, as DenseNet's `features`).
    Scope { entries: Vec<Entry> },
}

/// `custom(Type, args)`.
#[derive(Clone)]
pub struct Custom {
    /// The `custom` keyword.
    pub token: Ident,
    pub ty: syn::Type,
    pub args: Vec<Arg>,
}

/// `kind(args)`.
#[derive(Clone)]
pub struct Call {
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// The span of the argument list, or of the kind when there is none.
    pub args_span: Span,
}

/// One layer as the checks see it: a call with the name and label of its place.
#[derive(Clone)]
pub struct LayerDef {
    /// The struct field the layer becomes: `conv1`, `layer1_0_conv1`.
    pub name: Ident,
    /// How messages name it: its weight key path, `layer1.0.conv1`.
    pub label: String,
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// The span of the argument list, or of the kind when there is none.
    pub args_span: Span,
}

/// One argument in a layer's parentheses.
#[derive(Clone)]
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
    /// `a * b`, `a / b`, `a + b`, `a - b`: arithmetic on whole numbers and block parameters
    /// (`hidden = in * 6`), worked out where the value is read. `tokens` keeps the whole
    /// expression, so an error can underline it.
    Expr {
        op: char,
        lhs: Box<Value>,
        rhs: Box<Value>,
        tokens: TokenStream,
    },
    /// A block parameter while the block is checked on its own, before any instance gives
    /// it a value: every check accepts it and learns nothing from it.
    Placeholder(Span),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Int { span, .. }
            | Value::Float { span, .. }
            | Value::Negative { span, .. }
            | Value::Bool { span, .. }
            | Value::Tuple { span, .. }
            | Value::Placeholder(span) => *span,
            Value::Name(ident) => ident.span(),
            Value::Expr { lhs, .. } => lhs.span(),
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
            Value::Placeholder(_) => "_".to_string(),
            Value::Tuple { items, .. } => {
                let items: Vec<String> = items.iter().map(Value::text).collect();
                format!("({})", items.join(", "))
            }
            Value::Expr { op, lhs, rhs, .. } => {
                let side = |v: &Value| match v {
                    Value::Expr { .. } => format!("({})", v.text()),
                    v => v.text(),
                };
                format!("{} {op} {}", side(lhs), side(rhs))
            }
        }
    }
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut items = Vec::new();
        let mut tokens = Vec::new();
        while !input.is_empty() {
            let begin = input.cursor();
            items.push(input.parse()?);
            tokens.push(tokens_between(begin, input.cursor()));
        }
        if items.is_empty() {
            return Err(syn::Error::new(
                input.span(),
                "expected a network: `pub struct Name: [C, H, W] { layer: kind(..), … }`",
            ));
        }
        Ok(Invocation { items, tokens })
    }
}

/// The tokens from `begin` up to (not including) `end`.
fn tokens_between(begin: Cursor, end: Cursor) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = begin;
    while cursor < end {
        let Some((tree, next)) = cursor.token_tree() else {
            break;
        };
        tokens.extend([tree]);
        cursor = next;
    }
    tokens
}

mod kw {
    syn::custom_keyword!(block);
    syn::custom_keyword!(residual);
    syn::custom_keyword!(shortcut);
    syn::custom_keyword!(concat);
    syn::custom_keyword!(scale);
    syn::custom_keyword!(custom);
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![use]) {
            input.parse::<Token![use]>()?;
            let path = input.call(syn::Path::parse_mod_style)?;
            check_use_path(&path)?;
            input.parse::<Token![;]>()?;
            return Ok(Item::Use(UseBlock { path }));
        }
        if input.peek(Token![@]) {
            // `@import { block … }`: a block's own macro handing its declaration back.
            input.parse::<Token![@]>()?;
            let word: Ident = input.parse()?;
            if word != "import" {
                return Err(syn::Error::new(word.span(), "expected `@import`"));
            }
            let content;
            syn::braced!(content in input);
            return match content.parse()? {
                Item::Block(block) => Ok(Item::Block(BlockDef {
                    imported: true,
                    ..block
                })),
                _ => Err(syn::Error::new(word.span(), "`@import` takes a block")),
            };
        }
        let mut attrs = Vec::new();
        let mut config = Vec::new();
        for attr in input.call(Attribute::parse_outer)? {
            if is_config(&attr) {
                config.push(attr);
            } else {
                check_item_attribute(&attr)?;
                attrs.push(attr);
            }
        }
        let vis: Visibility = input.parse()?;
        let lookahead = input.lookahead1();
        if lookahead.peek(kw::block) {
            input.parse::<kw::block>()?;
            let name: Ident = input.parse()?;
            let content;
            parenthesized!(content in input);
            let params = Punctuated::<BlockParam, Token![,]>::parse_terminated(&content)?;
            let entries = parse_body(input)?;
            return Ok(Item::Block(BlockDef {
                config,
                vis,
                name,
                params: params.into_iter().collect(),
                entries,
                imported: false,
            }));
        }
        if !lookahead.peek(Token![struct]) {
            return Err(lookahead.error());
        }
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if !input.peek(Token![:]) {
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
        let entries = parse_body(input)?;
        Ok(Item::Network(NetworkDef {
            attrs,
            config,
            vis,
            name,
            input: shape.into_iter().collect(),
            input_span: brackets.span.join(),
            entries,
        }))
    }
}

/// How deep brackets, braces and parentheses may nest in an invocation. Deeper nesting is a
/// mistake or hostile input: it would overflow the stack of the parser (syn's included) and of
/// rustc on the graph the macro writes before any check could say so. The size programs nest
/// branches at most [`stride_geometry::MAX_DEPTH`] deep too.
pub const MAX_NESTING: usize = 64;

/// Refuses an invocation whose groups nest deeper than [`MAX_NESTING`], at the first group past
/// it. Walks the tokens with a stack of its own, so any depth is safe to look at.
pub fn check_nesting(tokens: &TokenStream) -> syn::Result<()> {
    let mut stack = vec![tokens.clone().into_iter()];
    while let Some(level) = stack.last_mut() {
        match level.next() {
            Some(proc_macro2::TokenTree::Group(group)) => {
                if stack.len() > MAX_NESTING {
                    return Err(syn::Error::new(
                        group.span(),
                        format!(
                            "this nests deeper than {MAX_NESTING} levels of brackets, braces and \
                             parentheses; split it into blocks"
                        ),
                    ));
                }
                stack.push(group.stream().into_iter());
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    Ok(())
}

/// A block's path as Rust resolves a macro's: `crate`, `self` and `super` only at the start,
/// no `Self`, and a name at the end.
fn check_use_path(path: &syn::Path) -> syn::Result<()> {
    let mut leading = true;
    for segment in &path.segments {
        let name = segment.ident.to_string();
        let relative = matches!(name.as_str(), "crate" | "self" | "super");
        if name == "Self" || (relative && !leading) || (relative && path.leading_colon.is_some()) {
            return Err(syn::Error::new(
                segment.ident.span(),
                "`use` brings in a block by its path: `use crate::blocks::Name;`, `use \
                 self::…`, `use super::…`, or `use ::other_crate::Name;` for another crate's",
            ));
        }
        leading &= name == "super" || (relative && leading);
    }
    match path.segments.last() {
        Some(last) if !matches!(last.ident.to_string().as_str(), "crate" | "self" | "super") => {
            Ok(())
        }
        _ => Err(syn::Error::new_spanned(
            path,
            "`use` names a block at the end of its path: `use crate::blocks::Name;`",
        )),
    }
}

/// `{ entry, … }`.
fn parse_body(input: ParseStream) -> syn::Result<Vec<Entry>> {
    let body;
    syn::braced!(body in input);
    let entries = Punctuated::<Entry, Token![,]>::parse_terminated(&body)?;
    Ok(entries.into_iter().collect())
}

/// Whether an attribute is addressed to the macro rather than to the generated struct.
pub fn is_config(attr: &Attribute) -> bool {
    ["sequential", "lints", "strict", "export"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

/// The attributes the generated struct carries as written: doc comments and lint levels.
pub fn is_passed_on(attr: &Attribute) -> bool {
    if attr.path().is_ident("doc") {
        return check_doc(attr).is_ok();
    }
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|name| attr.path().is_ident(name))
}

/// A network or block takes doc comments and lint levels besides the macro's own attributes:
/// anything else would land on the generated struct, where it might not compile (a
/// `#[derive(Debug)]` beside the `Debug` the macro writes) or would not mean what it says.
fn check_item_attribute(attr: &Attribute) -> syn::Result<()> {
    if attr.path().is_ident("doc") {
        return check_doc(attr);
    }
    if is_passed_on(attr) {
        return Ok(());
    }
    let path = attr.path();
    let name = quote::quote!(#path).to_string().replace(' ', "");
    let message = if path.is_ident("key") || path.is_ident("keys") {
        format!(
            "`#[{name}]` names the weights of an entry; it goes on an entry inside the braces, \
             not on a network or a block"
        )
    } else {
        format!(
            "a network or a block takes doc comments, lint levels (`#[allow(..)]`, …) and the \
             macro's `#[sequential]`, `#[lints(..)]`, `#[strict]` and `#[export]`; `#[{name}]` \
             is not one of them"
        )
    };
    Err(syn::Error::new(attr.bracket_token.span.join(), message))
}

/// `#[doc = "text"]` (what a `///` comment is), or `#[doc = some_macro!(..)]` such as
/// `include_str!`: what rustc takes as a doc attribute on the struct.
fn check_doc(attr: &Attribute) -> syn::Result<()> {
    if let syn::Meta::NameValue(pair) = &attr.meta {
        match &pair.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(_),
                ..
            })
            | syn::Expr::Macro(_) => {
                return Ok(());
            }
            _ => {}
        }
    }
    Err(syn::Error::new(
        attr.bracket_token.span.join(),
        "a doc attribute is `/// text`, `#[doc = \"text\"]` or `#[doc = include_str!(\"file\")]`",
    ))
}

impl Parse for BlockParam {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let default = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(BlockParam { name, default })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        if input.peek(kw::residual) && input.peek2(syn::token::Brace) {
            let token: Ident = input.parse()?;
            let main = parse_body(input)?;
            let shortcut = if input.peek(kw::shortcut) {
                input.parse::<kw::shortcut>()?;
                let name: Ident = input.parse()?;
                input.parse::<Token![:]>()?;
                Some((name, input.parse()?))
            } else {
                None
            };
            if let Some(attr) = attrs.first() {
                return Err(syn::Error::new(
                    attr.bracket_token.span.join(),
                    "a `residual` takes no attributes",
                ));
            }
            return Ok(Entry::Residual {
                token,
                main,
                shortcut,
            });
        }
        if input.peek(kw::concat) && input.peek2(syn::token::Brace) {
            let token: Ident = input.parse()?;
            if let Some(attr) = attrs.first() {
                return Err(syn::Error::new(
                    attr.bracket_token.span.join(),
                    "a `concat` without a name takes no attributes",
                ));
            }
            return Ok(Entry::Concat {
                token,
                branches: parse_branches(input)?,
            });
        }
        if input.peek(kw::scale) && input.peek2(syn::token::Brace) {
            let token: Ident = input.parse()?;
            if let Some(attr) = attrs.first() {
                return Err(syn::Error::new(
                    attr.bracket_token.span.join(),
                    "a `scale` without a name takes no attributes",
                ));
            }
            return Ok(Entry::Scale {
                token,
                gate: parse_body(input)?,
            });
        }
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(Entry::Named {
            attrs,
            name,
            target: input.parse()?,
        })
    }
}

/// `{ branch, … }` after `concat`.
fn parse_branches(input: ParseStream) -> syn::Result<Vec<Branch>> {
    let content;
    syn::braced!(content in input);
    let branches = Punctuated::<Branch, Token![,]>::parse_terminated(&content)?;
    Ok(branches.into_iter().collect())
}

impl Parse for Branch {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::token::Brace) {
            let brace = input.cursor().span();
            return Ok(Branch::Inline {
                brace,
                entries: parse_body(input)?,
            });
        }
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(Branch::Named(name, input.parse()?))
    }
}

impl Parse for Target {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::token::Bracket) {
            let content;
            bracketed!(content in input);
            return Ok(Target::Sequence {
                items: parse_items(&content)?,
            });
        }
        if input.peek(syn::token::Brace) {
            return Ok(Target::Scope {
                entries: parse_body(input)?,
            });
        }
        if input.peek(kw::concat) && input.peek2(syn::token::Brace) {
            let token: Ident = input.parse()?;
            return Ok(Target::Concat {
                token,
                branches: parse_branches(input)?,
            });
        }
        if input.peek(kw::scale) && input.peek2(syn::token::Brace) {
            let token: Ident = input.parse()?;
            return Ok(Target::Scale {
                token,
                gate: parse_body(input)?,
            });
        }
        if input.peek(kw::custom) && input.peek2(syn::token::Paren) {
            let token: Ident = input.parse()?;
            let content;
            parenthesized!(content in input);
            let ty: syn::Type = content.parse()?;
            let mut args = Vec::new();
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
                args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?
                    .into_iter()
                    .collect();
            }
            return Ok(Target::Custom(Box::new(Custom { token, ty, args })));
        }
        // `path::To::Network => [C, H, W]`: a network declared elsewhere, with its output.
        let fork = input.fork();
        if fork.parse::<syn::Path>().is_ok() && fork.peek(Token![=>]) {
            let ty: syn::Path = input.parse()?;
            input.parse::<Token![=>]>()?;
            let content;
            let brackets = bracketed!(content in input);
            let output = Punctuated::<Value, Token![,]>::parse_terminated(&content)?;
            return Ok(Target::External {
                ty,
                output: output.into_iter().collect(),
                output_span: brackets.span.join(),
            });
        }
        let kind: Ident = input.parse()?;
        let (args, args_span) = if input.peek(syn::token::Paren) {
            let content;
            let parens = parenthesized!(content in input);
            let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
            (args.into_iter().collect(), parens.span.join())
        } else {
            (Vec::new(), kind.span())
        };
        Ok(Target::Call(Call {
            kind,
            args,
            args_span,
        }))
    }
}

/// The most a repetition may write out, counting every call, sequence and branch of its
/// copies: more is a mistake (or hostile input, as nested repetitions multiply), and would
/// make the build crawl before any check could say so.
const MAX_COPIES: usize = 4096;

/// The items of a sequence: `a, b, ..[c; 3]`, or `[a; 6]` alone.
fn parse_items(content: ParseStream) -> syn::Result<Vec<Target>> {
    let mut items = Vec::new();
    while !content.is_empty() {
        if content.peek(Token![..]) {
            content.parse::<Token![..]>()?;
            let inner;
            bracketed!(inner in content);
            let target: Target = inner.parse()?;
            items.extend(copies(target, &inner)?);
        } else {
            let target: Target = content.parse()?;
            if items.is_empty() && content.peek(Token![;]) {
                items.extend(copies(target, content)?);
                if !content.is_empty() {
                    return Err(content.error(
                        "`[target; count]` holds one target; to follow it with others, write \
                         `[a, ..[b; count], c]`",
                    ));
                }
                break;
            }
            items.push(target);
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(items)
}

/// `; count` after `target`: that many copies of it, numbered in the sequence as written out.
fn copies(target: Target, input: ParseStream) -> syn::Result<Vec<Target>> {
    input.parse::<Token![;]>()?;
    let count: syn::LitInt = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected the number of copies: `[target; 6]`"))?;
    let n: usize = count.base10_parse().unwrap_or(usize::MAX);
    if n == 0 {
        return Err(syn::Error::new(
            count.span(),
            "a repetition writes out at least one copy; leave the target out for none",
        ));
    }
    if n.saturating_mul(size(&target)) > MAX_COPIES {
        return Err(syn::Error::new(
            count.span(),
            format!(
                "a repetition writes out 1 to {MAX_COPIES} layers, blocks and branches in all; \
                 {count} copies of this target would be {}",
                n.saturating_mul(size(&target))
            ),
        ));
    }
    if !input.is_empty() {
        return Err(input.error("expected `]` after the number of copies"));
    }
    Ok(vec![target; n])
}

/// How many calls, sequences and branches a target writes out, for the repetition bound.
fn size(target: &Target) -> usize {
    fn entries(list: &[Entry]) -> usize {
        list.iter()
            .map(|e| match e {
                Entry::Named { target, .. } => size(target),
                Entry::Residual { main, shortcut, .. } => {
                    entries(main).saturating_add(shortcut.as_ref().map_or(0, |(_, t)| size(t)))
                }
                Entry::Concat { branches, .. } => branches_size(branches),
                Entry::Scale { gate, .. } => entries(gate),
            })
            .fold(1, usize::saturating_add)
    }
    fn branches_size(branches: &[Branch]) -> usize {
        branches
            .iter()
            .map(|b| match b {
                Branch::Named(_, t) => size(t),
                Branch::Inline { entries: e, .. } => entries(e),
            })
            .fold(1, usize::saturating_add)
    }
    match target {
        Target::Call(_) | Target::External { .. } | Target::Custom(_) => 1,
        Target::Sequence { items } => items.iter().map(size).fold(1, usize::saturating_add),
        Target::Concat { branches, .. } => branches_size(branches),
        Target::Scale { gate, .. } => entries(gate),
        Target::Scope { entries: list } => entries(list),
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
        let begin = input.cursor();
        let mut value = term(input)?;
        while input.peek(Token![+]) || (input.peek(Token![-]) && !input.peek(Token![->])) {
            let op = if input.parse::<Option<Token![+]>>()?.is_some() {
                '+'
            } else {
                input.parse::<Token![-]>()?;
                '-'
            };
            let rhs = term(input)?;
            value = binary(op, value, rhs, tokens_between(begin, input.cursor()));
        }
        Ok(value)
    }
}

/// `atom ( ("*" | "/") atom )*`.
fn term(input: ParseStream) -> syn::Result<Value> {
    let begin = input.cursor();
    let mut value = atom(input)?;
    while input.peek(Token![*]) || input.peek(Token![/]) {
        let op = if input.parse::<Option<Token![*]>>()?.is_some() {
            '*'
        } else {
            input.parse::<Token![/]>()?;
            '/'
        };
        let rhs = atom(input)?;
        value = binary(op, value, rhs, tokens_between(begin, input.cursor()));
    }
    Ok(value)
}

fn binary(op: char, lhs: Value, rhs: Value, tokens: TokenStream) -> Value {
    Value::Expr {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        tokens,
    }
}

/// A literal, a name or a tuple.
fn atom(input: ParseStream) -> syn::Result<Value> {
    let lookahead = input.lookahead1();
    if lookahead.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let literal = atom(input)?;
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
        // `(in * 6)` groups; `(3, 5)` is a pair.
        if items.len() == 1 && !items.trailing_punct() {
            return Ok(items.into_iter().next().expect("one item"));
        }
        return Ok(Value::Tuple {
            items: items.into_iter().collect(),
            span: parens.span.join(),
        });
    }
    Err(lookahead.error())
}
