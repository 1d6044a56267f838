//! The macro under mutated input, as a fuzzer would drive it: the `network!` invocations of
//! the repository's examples, passing tests and zoo, with tokens deleted, duplicated and
//! swapped, literals replaced by extreme ones, identifiers by raw and unicode ones, and targets
//! nested deep. For each input the macro must not panic, and what it returns must be Rust
//! items (a `compile_error!` is one).
//!
//! CI runs [`INPUTS`] inputs from a fixed seed. A longer run:
//!
//! ```text
//! STRIDE_FUZZ_INPUTS=1000000 STRIDE_FUZZ_SEED=7 cargo test --release -p stride-macros fuzz -- --nocapture
//! ```
//!
//! A failure prints the seed and the input that failed; each one found became a case under
//! `tests/ui/` (and was fixed).

use std::panic::{AssertUnwindSafe, catch_unwind};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// How many inputs CI runs.
const INPUTS: usize = 20_000;

/// The seed CI runs with.
const SEED: u64 = 0x5742_1DE0_0000_0001;

/// The files whose `network!` invocations are the starting points.
const SOURCES: &[&str] = &[
    include_str!("../../tests/pass/every_layer_kind.rs"),
    include_str!("../../tests/pass/branches.rs"),
    include_str!("../../tests/pass/blocks_from_another_module.rs"),
    include_str!("../../tests/pass/identity_and_unnamed_concat.rs"),
    include_str!("../../tests/pass/key_overrides.rs"),
    include_str!("../../tests/pass/repetition_and_arithmetic.rs"),
    include_str!("../../tests/pass/scale_and_pixel_linear.rs"),
    include_str!("../../tests/pass/network_from_another_invocation.rs"),
    include_str!("../../tests/pass/empty_key_shares_the_parents_keys.rs"),
    include_str!("../../examples/models/mod.rs"),
    include_str!("../../examples/unet.rs"),
    include_str!("../../src/zoo/blocks.rs"),
    include_str!("../../src/zoo/resnet.rs"),
    include_str!("../../src/zoo/mobilenet.rs"),
    include_str!("../../src/zoo/convnext.rs"),
    include_str!("../../src/zoo/classic.rs"),
];

/// Literals that have broken size arithmetic, parsing or float conversion somewhere.
const EXTREME_LITERALS: &[&str] = &[
    "0",
    "1",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "9223372036854775808",
    "4294967296",
    "1_000_000_000_000",
    "0x1",
    "0xFFFF_FFFF_FFFF_FFFF",
    "0o17",
    "0b101",
    "300u8",
    "7usize",
    "1e300",
    "3.5e38",
    "1e-50",
    "0.0",
    "1.5",
    "\"same\"",
    "\"\"",
    "'x'",
    "b'x'",
];

/// Identifiers that have broken names somewhere.
const ODD_IDENTS: &[&str] = &[
    "r#type",
    "r#fn",
    "café",
    "变量",
    "_",
    "self",
    "Self",
    "crate",
    "super",
    "__fused_c",
    "a_0",
    "GRAPH",
    "forward",
    "conv2d",
    "residual",
    "concat",
    "scale",
    "block",
    "struct",
    "H",
    "W",
];

/// Fragments of the grammar, inserted anywhere.
const FRAGMENTS: &[&str] = &[
    "residual { }",
    "concat { }",
    "scale { }",
    "shortcut s: relu",
    "#[key = \"\"]",
    "#[keys(\"x{}\", from = 18446744073709551615)]",
    "#[sequential(\"a..b\")]",
    "#[lints(checkerboard = deny)]",
    "#[strict]",
    "@import { block X() { a: relu, } }",
    "use ::x::Y;",
    "use self::Z;",
    "block B(a = a) { c: conv2d(a, kernel = a), }",
    "pub struct S: [1, H, W] { }",
    "=>",
    ";",
    "..",
    "::",
    ",",
    ":",
    "= ",
    "* 0",
    "/ 0",
    "- 18446744073709551615",
    "(1, (2, 3))",
    "[relu; 4096]",
    "{ }",
];

/// A small, fast, reproducible generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The token streams of every `network!` invocation in `source`.
fn invocations(source: &str) -> Vec<TokenStream> {
    fn walk(items: &[syn::Item], out: &mut Vec<TokenStream>) {
        for item in items {
            match item {
                syn::Item::Macro(m)
                    if m.mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "network") =>
                {
                    out.push(m.mac.tokens.clone());
                }
                syn::Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        walk(items, out);
                    }
                }
                _ => {}
            }
        }
    }
    let file = syn::parse_file(source).expect("the repository's sources parse");
    let mut out = Vec::new();
    walk(&file.items, &mut out);
    out
}

/// `stream` with one mutation applied somewhere in it.
fn mutate(stream: TokenStream, rng: &mut Rng) -> TokenStream {
    let mut trees: Vec<TokenTree> = stream.into_iter().collect();
    if trees.is_empty() {
        return TokenStream::new();
    }
    // Go into a group about half the time, so mutations land at every depth.
    let at = rng.below(trees.len());
    if let TokenTree::Group(group) = &trees[at] {
        if rng.below(2) == 0 {
            let inner = mutate(group.stream(), rng);
            let mut replaced = Group::new(group.delimiter(), inner);
            replaced.set_span(group.span());
            trees[at] = TokenTree::Group(replaced);
            return trees.into_iter().collect();
        }
    }
    match rng.below(8) {
        0 => {
            trees.remove(at);
        }
        1 => {
            let copy = trees[at].clone();
            trees.insert(at, copy);
        }
        2 => {
            let other = rng.below(trees.len());
            trees.swap(at, other);
        }
        3 => {
            let text = EXTREME_LITERALS[rng.below(EXTREME_LITERALS.len())];
            if let Ok(literal) = text.parse::<Literal>() {
                trees[at] = TokenTree::Literal(literal);
            }
        }
        4 => {
            let text = ODD_IDENTS[rng.below(ODD_IDENTS.len())];
            trees[at] = match text.strip_prefix("r#") {
                Some(raw) => TokenTree::Ident(Ident::new_raw(raw, Span::call_site())),
                None => match text.parse::<TokenStream>() {
                    Ok(ts) => ts.into_iter().next().unwrap_or(trees[at].clone()),
                    Err(_) => trees[at].clone(),
                },
            };
        }
        5 => {
            // Deep nesting: the tree inside many brackets (sequences) or braces.
            let depth = [64, 300, 2_000][rng.below(3)];
            let delimiter = [Delimiter::Bracket, Delimiter::Brace][rng.below(2)];
            let mut nested = TokenStream::from(trees[at].clone());
            for _ in 0..depth {
                nested = TokenTree::Group(Group::new(delimiter, nested)).into();
            }
            trees[at] = nested.into_iter().next().expect("a group");
        }
        6 => {
            // A minus where a value may be, or a fragment of the grammar anywhere.
            if rng.below(3) == 0 {
                trees.insert(at, TokenTree::Punct(Punct::new('-', Spacing::Alone)));
            } else {
                let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                if let Ok(tokens) = fragment.parse::<TokenStream>() {
                    for (i, tree) in tokens.into_iter().enumerate() {
                        trees.insert(at + i, tree);
                    }
                }
            }
        }
        _ => {
            // The same entry many times over: expansions that grow.
            let copy = trees[at].clone();
            for _ in 0..rng.below(40) {
                trees.insert(at, copy.clone());
            }
        }
    }
    trees.into_iter().collect()
}

/// How many accepted inputs `STRIDE_FUZZ_ACCEPTED` keeps for compiling.
const ACCEPTED: usize = 300;

/// The expansion of `input` if the macro accepts it on its own: it expands without a
/// `compile_error!`, and names nothing from outside the invocation (a block of another
/// invocation, a network used as a layer), which only a crate that has them can resolve.
fn accepted_expansion(input: &TokenStream) -> Option<String> {
    let output = catch_unwind(AssertUnwindSafe(|| crate::expand_tokens(input.clone()))).ok()?;
    let text = output.to_string();
    let brings_in = input
        .clone()
        .into_iter()
        .any(|t| matches!(t, TokenTree::Ident(i) if i == "use"));
    (!brings_in && !text.contains("compile_error") && !text.contains("External {")).then_some(text)
}

/// The macros an expansion hands to other crates (`#[export] pub block`s): they live at the
/// crate's root, so the compiled crate takes each name once, as a real crate must.
fn exported_macros(expansion: &str) -> impl Iterator<Item = &str> {
    expansion
        .split("macro_rules ! ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
}

/// Writes the accepted inputs as a crate under `dir` (`Cargo.toml`, `src/lib.rs`, one module
/// per input), for `bench/fuzz_compile.sh` to check with rustc: an input the macro accepts
/// must expand to code that compiles.
fn write_accepted(dir: &std::path::Path, accepted: &[TokenStream]) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("a directory for the accepted inputs");
    let manifest = format!(
        "[package]\nname = \"fuzz-accepted\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nstride = {{ path = \"{}\" }}\n\n[workspace]\n",
        concat!(env!("CARGO_MANIFEST_DIR"), "/..")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("the manifest");
    let mut lib = String::from("#![allow(warnings)]\n");
    for (i, input) in accepted.iter().enumerate() {
        lib.push_str(&format!(
            "pub mod m{i} {{ stride::network! {{ {input} }} }}\n"
        ));
    }
    std::fs::write(src.join("lib.rs"), lib).expect("the accepted inputs");
}

/// Runs the macro on `input`; `Err` with what went wrong if it panicked or returned something
/// other than items.
fn check_one(input: &TokenStream) -> Result<(), String> {
    let output = catch_unwind(AssertUnwindSafe(|| crate::expand_tokens(input.clone()))).map_err(
        |panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            format!("panicked: {text}")
        },
    )?;
    syn::parse2::<syn::File>(output)
        .map(|_| ())
        .map_err(|e| format!("returned tokens that are not items: {e}"))
}

/// The stack rustc gives the thread a proc macro runs on (its main thread's, 8 MiB); the fuzz
/// inputs run on one of that size, not on the test harness's smaller one.
const RUSTC_STACK: usize = 8 << 20;

/// Runs `f` on a thread with rustc's stack.
fn on_rustc_stack(f: fn()) {
    std::thread::Builder::new()
        .stack_size(RUSTC_STACK)
        .spawn(f)
        .expect("a thread for the test")
        .join()
        .expect("the test reports its failures itself");
}

#[test]
fn the_macro_never_panics_and_always_returns_items() {
    on_rustc_stack(fuzz);
}

fn fuzz() {
    let inputs: usize = std::env::var("STRIDE_FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(INPUTS);
    let seed: u64 = std::env::var("STRIDE_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SEED);
    let seeds: Vec<TokenStream> = SOURCES.iter().flat_map(|s| invocations(s)).collect();
    assert!(seeds.len() >= 20, "only {} invocations found", seeds.len());
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut accepted = Vec::new();
    let mut exported = std::collections::HashSet::new();
    for i in 0..inputs {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(3) {
            input = mutate(input, &mut rng);
        }
        if accepted.len() < ACCEPTED
            && let Some(expansion) = accepted_expansion(&input)
        {
            let names: Vec<&str> = exported_macros(&expansion).collect();
            if names.iter().all(|name| !exported.contains(*name)) {
                exported.extend(names.into_iter().map(str::to_string));
                accepted.push(input.clone());
            }
        }
        if let Err(why) = check_one(&input) {
            failures.push(format!("input {i}: {why}\n{input}"));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    std::panic::set_hook(hook);
    if let Ok(dir) = std::env::var("STRIDE_FUZZ_ACCEPTED") {
        write_accepted(std::path::Path::new(&dir), &accepted);
    }
    println!(
        "{inputs} mutated invocations from seed {seed:#x}, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The inputs issue 12 reported, each once: none may panic, and each returns items.
#[test]
fn the_reported_inputs_do_not_panic() {
    on_rustc_stack(reported);
}

fn reported() {
    let cases = [
        "pub struct N: [3, 8, 8] { r#type: tanh, }",
        "pub struct N: [9223372036854775807, 1, 2] { a: relu, }",
        "pub struct N: [18446744073709551615, 18446744073709551615, 18446744073709551615] { a: flatten, }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 18446744073709551615), }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 3, padding = 9223372036854775808), }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 3, padding = 18446744073709551615), }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 3, dilation = 9223372036854775807), }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 3, stride = 18446744073709551615), }",
        "pub struct N: [3, 8, 8] { c: conv_transpose2d(8, kernel = 3, stride = 18446744073709551615), }",
        "pub struct N: [3, 8, 8] { c: conv_transpose2d(8, kernel = 18446744073709551615, stride = 2), }",
        "pub struct N: [3, 8, 8] { c: conv_transpose2d(8, kernel = 3, stride = 4294967296, output_padding = 4294967295), }",
        "pub struct N: [3, 4294967296, 4294967296] { c: conv2d(8, kernel = 3), p: max_pool2d(2), }",
        "pub struct N: [3, 8, 8] { p: max_pool2d(kernel = 18446744073709551615, padding = 9223372036854775807), }",
        "pub struct N: [3, 8, 8] { b: batch_norm2d(eps = 3.5e38), }",
        "pub struct N: [3, 8, 8] { a: leaky_relu(-1e300), }",
        "pub struct N: [3, 8, 8] { u: upsample(scale = 18446744073709551615), }",
        "pub struct N: [3, 8, 8] { a: adaptive_avg_pool2d(18446744073709551615), }",
        "pub struct N: [3, 8, 8] { c: conv2d(18446744073709551615, kernel = 1), f: flatten, l: linear(18446744073709551615), }",
        "pub struct Net: [3, 8, 8] { a: relu, } pub struct Net: [3, 8, 8] { a: relu, }",
        "pub struct N: [3, 8, 8] { residual { }, }",
        "pub struct N: [3, 8, 8] { residual { d: dropout, }, }",
        "pub struct N: [3, 8, 8] { f: flatten, g: flatten, }",
        "pub struct N: [3, 8, 8] { a_0: relu, a: [relu], }",
        "pub struct N: [3, 8, 8] { __fused_c: conv2d(8, kernel = 1), }",
        "pub struct N: [3, 8, 8] { c: conv2d(8, kernel = 3, padding = 0x1), }",
        "pub struct N: [3, 8, 8] { c: conv2d(300u8, kernel = 3), }",
        "block B() { a: relu, } pub struct B: [3, 8, 8] { a: relu, }",
        "pub struct B: [3, 8, 8] { a: relu, } block B() { a: relu, }",
        // Found by a run of 250,000 inputs from seed 7: a raw shortcut name before a sequence.
        "pub struct N: [3, 8, 8] { residual { c: conv2d(4, kernel = 1, stride = 2), } \
         shortcut r#fn: [conv2d(4, kernel = 1, stride = 2), batch_norm2d()], }",
        "pub struct N: [3, 8, 8] { j: concat { r#type: [conv2d(4, kernel = 1), relu], b: relu }, }",
    ];
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let input: TokenStream = case.parse().expect("each case tokenizes");
            check_one(&input).err().map(|why| format!("{case}: {why}"))
        })
        .collect();
    std::panic::set_hook(hook);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
