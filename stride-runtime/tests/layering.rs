//! The runtime's source files are layered: no file depends on a file that depends back on it,
//! directly or through others, and the GEMM does not depend on the ops.
//!
//! The test reads `src/**/*.rs` as text (comments, strings and character literals blanked out)
//! and finds each file's dependencies on the crate's other files:
//!
//! * A file depends on another when it names an item of it through a path inside the crate: in
//!   a `use` declaration, or in code (`crate::threads::for_each(..)`,
//!   `super::avx2::kernel(..)`, `im2col::conv2d(..)` for a child module `im2col`, or
//!   `gemm::tasks_for` for a module imported as `gemm`). Method calls and names brought in by a
//!   glob (`use x::*`) are not seen; the crate's own code uses no glob imports.
//! * A path leads to the file of the deepest module it names. A name that module imports
//!   (`use x::Y`, `pub use x::Y`) is followed to where it comes from, so `crate::Error` is a
//!   use of `error.rs`, not of `lib.rs`; a name from another crate is no dependency.
//! * Declaring a child module (`mod x;`) and re-exporting from it (`pub use x::Y;`,
//!   `pub(crate) use ..`) are not dependencies: they are the parent's table of contents. A
//!   `use` of a module itself (`use crate::gemm::{self}`) is not one either; the paths written
//!   through it are.
//! * Test code is left out: a file declared `#[cfg(test)] mod x;`, everything under it, and
//!   any other `#[cfg(test)]` item (the inline `mod tests { .. }`). Tests import what they test
//!   (`use super::*`) and shared helpers, so they point upward by design, and nothing in the
//!   library can depend on them.
//!
//! The GEMM is held to more: no file under `gemm/` names a path into `ops` at all, not even
//! one the ops re-export from elsewhere, and none reaches a file under `ops/` through any
//! chain.
//!
//! A failure prints the files of the cycle (or the chain), each step with the path that
//! makes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[test]
fn no_two_runtime_files_depend_on_each_other_through_any_chain() {
    let graph = runtime().dependencies();
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "a dependency cycle between files:\n{}",
            steps(&graph, &cycle)
        );
    }
}

#[test]
fn the_gemm_depends_on_nothing_in_the_ops() {
    let crate_ = runtime();
    // Not even on a name the ops re-export from elsewhere: the GEMM does not name them.
    for (file, mentions) in crate_
        .mentions
        .iter()
        .filter(|(f, _)| f.starts_with("gemm/"))
    {
        for mention in mentions {
            let path = crate_.absolute(&mention.scope, &mention.segments, 0);
            assert!(
                path.is_none_or(|p| p.first().is_none_or(|m| m != "ops")),
                "{file} names the ops: `{}`",
                mention.segments.join("::")
            );
        }
    }
    let graph = crate_.dependencies();
    for file in graph.keys().filter(|f| f.starts_with("gemm/")) {
        if let Some(chain) = find_path(&graph, file, |f| f.starts_with("ops/")) {
            panic!("the GEMM depends on the ops:\n{}", steps(&graph, &chain));
        }
    }
}

/// This crate's sources.
fn runtime() -> Crate {
    Crate::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// A chain of files, a line a step, each with the path that makes it.
fn steps(graph: &Graph, chain: &[String]) -> String {
    let lines: Vec<String> = chain
        .windows(2)
        .map(|pair| {
            format!(
                "  {} -> {}   (`{}`)",
                pair[0], pair[1], graph[&pair[0]][&pair[1]]
            )
        })
        .collect();
    lines.join("\n")
}

#[test]
fn the_reader_sees_the_dependencies_it_is_meant_to_see() {
    let crate_ = Crate::from_files(&[
        (
            "lib.rs",
            "mod a; mod b; #[cfg(test)] mod t; pub use a::Thing; mod c { pub fn f() {} } \
             /* crate::b::x */ const S: &str = \"crate::b::y\"; const R: &str = r#\"b::z\"#;",
        ),
        (
            "a.rs",
            "mod d; use crate::b::{self, Other as Renamed}; pub struct Thing; \
             fn g<'l>(_: &'l u8) -> char { b::h(); super::c::f(); d::e(); \
             let _ = std::mem::size_of::<u8>(); '{' }",
        ),
        (
            "a/d.rs",
            "pub fn e() {} mod inner { use super::e; } \
             #[cfg(test)] fn only_in_tests() { crate::b::h(); }",
        ),
        (
            "b.rs",
            "pub struct Other; pub fn h() {} fn k() { let _ = crate::Thing; } \
             #[cfg(test)] mod tests { use crate::a::Thing; }",
        ),
        ("t.rs", "use crate::a::Thing;"),
    ]);
    let graph = crate_.dependencies();
    let edges = |file: &str| graph[file].keys().cloned().collect::<Vec<_>>();
    // A child by path, a module imported by `self` and used through its name, an item through
    // `super`; nothing from `std`, the comment, the strings or the character literal.
    assert_eq!(edges("a.rs"), ["a/d.rs", "b.rs", "lib.rs"]);
    // An inline module's `super` is its own file; test code is not read.
    assert_eq!(edges("a/d.rs"), Vec::<String>::new());
    // `crate::Thing` is re-exported by lib.rs from a.rs: followed to a.rs.
    assert_eq!(edges("b.rs"), ["a.rs"]);
    // The re-export and the declarations are not dependencies; the test file is not read.
    assert_eq!(edges("lib.rs"), Vec::<String>::new());
    assert!(!graph.contains_key("t.rs"));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a.rs".into(), "b.rs".into(), "a.rs".into()])
    );
}

/// A module: the file it lives in, its child modules and the names its `use`s bring in.
#[derive(Debug, Default)]
struct Module {
    file: String,
    children: BTreeSet<String>,
    /// Name -> the path its `use` wrote, as written in this module.
    imports: HashMap<String, Vec<String>>,
}

/// A path written in library code: the module it is written in, its segments, and whether it
/// is part of a re-export.
#[derive(Debug)]
struct Mention {
    scope: Vec<String>,
    segments: Vec<String>,
    re_export: bool,
}

#[derive(Debug, Default)]
struct Crate {
    /// The source files, by path under `src`.
    files: BTreeSet<String>,
    /// Every library module, by path from the crate root (`[]` is the crate).
    modules: BTreeMap<Vec<String>, Module>,
    /// The paths written in each library file.
    mentions: BTreeMap<String, Vec<Mention>>,
}

impl Crate {
    /// Reads the crate whose root is `src/lib.rs`.
    fn read(src: &Path) -> Crate {
        let mut paths = Vec::new();
        collect(src, src, &mut paths);
        let files: Vec<(String, String)> = paths
            .into_iter()
            .map(|(name, path)| {
                (
                    name,
                    std::fs::read_to_string(path).expect("a readable file"),
                )
            })
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Crate::from_files(&files)
    }

    /// The crate made of `files`, `(path under src, text)`, whose root is `lib.rs`.
    fn from_files(files: &[(&str, &str)]) -> Crate {
        let texts: HashMap<&str, &str> = files.iter().copied().collect();
        let mut crate_ = Crate {
            files: texts.keys().map(|f| f.to_string()).collect(),
            ..Crate::default()
        };
        let mut queue = vec![(Vec::new(), "lib.rs".to_string())];
        while let Some((module, file)) = queue.pop() {
            let text = texts
                .get(file.as_str())
                .unwrap_or_else(|| panic!("{file} is declared but missing"));
            queue.extend(crate_.parse(&file, &module, &tokens(&blank(text))));
        }
        crate_
    }

    /// Reads one file, the module `module`: records its modules, imports and paths, and
    /// returns the child modules that live in files of their own, `(module path, file)`.
    fn parse(
        &mut self,
        file: &str,
        module: &[String],
        tokens: &[String],
    ) -> Vec<(Vec<String>, String)> {
        // `x.rs` keeps its children in `x/`; `lib.rs` and `x/mod.rs` beside themselves.
        let dir = match file.rsplit_once('/') {
            _ if file == "lib.rs" => String::new(),
            Some((dir, "mod.rs")) => format!("{dir}/"),
            _ => format!("{}/", file.trim_end_matches(".rs")),
        };
        self.modules.entry(module.to_vec()).or_default().file = file.to_string();
        let mut children = Vec::new();
        let mut mentions = Vec::new();
        // The module each brace depth is in: inline modules, with the depth inside their braces.
        let mut scopes: Vec<(Vec<String>, usize)> = vec![(module.to_vec(), 0)];
        let (mut depth, mut test, mut public) = (0, false, false);
        let mut i = 0;
        while i < tokens.len() {
            let scope = scopes.last().expect("the file's own scope").0.clone();
            let t = tokens[i].as_str();
            if t == "#" {
                // An attribute, `#[..]` or `#![..]`.
                let open = if tokens[i + 1] == "!" { i + 2 } else { i + 1 };
                let close = matching(tokens, open);
                test |= tokens[open + 1..close] == ["cfg", "(", "test", ")"];
                i = close + 1;
                continue;
            }
            if test {
                // Test code: skipped, a test file unread.
                i = item_end(tokens, i);
                (test, public) = (false, false);
                continue;
            }
            match t {
                "pub" => {
                    public = true;
                    i += 1;
                    if tokens[i] == "(" {
                        i = matching(tokens, i) + 1;
                    }
                    continue;
                }
                "mod" => {
                    let name = tokens[i + 1].clone();
                    let child: Vec<String> = scope.iter().chain([&name]).cloned().collect();
                    let parent = self.modules.entry(scope.clone()).or_default();
                    parent.children.insert(name.clone());
                    if tokens[i + 2] == ";" {
                        // Inline modules nest their files' directories too.
                        let inline = scope[module.len()..].join("/");
                        let base = if inline.is_empty() {
                            dir.clone()
                        } else {
                            format!("{dir}{inline}/")
                        };
                        let flat = format!("{base}{name}.rs");
                        let nested = format!("{base}{name}/mod.rs");
                        children.push((
                            child,
                            if self.files.contains(&flat) {
                                flat
                            } else {
                                nested
                            },
                        ));
                    } else {
                        self.modules.entry(child.clone()).or_default().file = file.to_string();
                        depth += 1;
                        scopes.push((child, depth));
                    }
                    i += 3;
                }
                "use" => {
                    let end = (i..tokens.len())
                        .find(|&j| tokens[j] == ";")
                        .expect("a `;`");
                    for (segments, alias) in use_tree(&tokens[i + 1..end]) {
                        let name = alias.as_ref().or(segments.last()).cloned();
                        if let Some(name) = name.filter(|n| n != "_" && n != "*") {
                            let here = self.modules.entry(scope.clone()).or_default();
                            here.imports.insert(name, segments.clone());
                        }
                        mentions.push(Mention {
                            scope: scope.clone(),
                            segments,
                            re_export: public,
                        });
                    }
                    i = end + 1;
                }
                "{" => {
                    depth += 1;
                    i += 1;
                }
                "}" => {
                    if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                        scopes.pop();
                    }
                    depth -= 1;
                    i += 1;
                }
                _ if is_ident(t) && tokens.get(i + 1).is_some_and(|t| t == "::") => {
                    // A path in code: `a::b::c`, not the tail of `<T as X>::c` or `::std::..`.
                    let mut segments = vec![t.to_string()];
                    let mut j = i + 1;
                    while tokens[j] == "::" && tokens.get(j + 1).is_some_and(|t| is_ident(t)) {
                        segments.push(tokens[j + 1].clone());
                        j += 2;
                    }
                    if segments.len() > 1 && (i == 0 || tokens[i - 1] != "::") {
                        mentions.push(Mention {
                            scope: scope.clone(),
                            segments,
                            re_export: false,
                        });
                    }
                    i = j;
                }
                _ => i += 1,
            }
            public = false;
        }
        self.mentions.insert(file.to_string(), mentions);
        children
    }

    /// `segments`, written in module `scope`, as a path from the crate root (without
    /// `crate`); `None` when it leads to another crate.
    fn absolute(&self, scope: &[String], segments: &[String], hops: usize) -> Option<Vec<String>> {
        assert!(hops < 32, "imports that lead in a circle at {segments:?}");
        let here = self.modules.get(scope)?;
        let (base, rest) = match segments.first()?.as_str() {
            "crate" => (Vec::new(), &segments[1..]),
            "self" => (scope.to_vec(), &segments[1..]),
            "super" => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                (scope[..scope.len() - ups].to_vec(), &segments[ups..])
            }
            first if here.children.contains(first) => (scope.to_vec(), segments),
            first => {
                // A name this module imports (a module alias, say); else another crate's,
                // as is an import of a name by itself (`use typenum;`).
                let written = here.imports.get(first)?;
                if written[0] == first {
                    return None;
                }
                let target = self.absolute(scope, written, hops + 1)?;
                return Some(
                    target
                        .into_iter()
                        .chain(segments[1..].iter().cloned())
                        .collect(),
                );
            }
        };
        Some(base.into_iter().chain(rest.iter().cloned()).collect())
    }

    /// The file that defines what an absolute path names; `None` for a module itself and for
    /// another crate's item.
    fn file_of(&self, path: &[String], hops: usize) -> Option<String> {
        assert!(hops < 32, "imports that lead in a circle at {path:?}");
        let mut module: Vec<String> = Vec::new();
        for (k, segment) in path.iter().enumerate() {
            let here = self.modules.get(&module)?;
            if here.children.contains(segment) {
                module.push(segment.clone());
                continue;
            }
            return match here.imports.get(segment) {
                // Imported here: follow it to where it comes from.
                Some(written) => {
                    let target = self.absolute(&module, written, hops + 1)?;
                    let target: Vec<String> = target
                        .into_iter()
                        .chain(path[k + 1..].iter().cloned())
                        .collect();
                    self.file_of(&target, hops + 1)
                }
                None => Some(here.file.clone()),
            };
        }
        None
    }

    /// Each library file's dependencies, each with a path that makes it.
    fn dependencies(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut graph = BTreeMap::new();
        for (file, mentions) in &self.mentions {
            let edges: &mut BTreeMap<String, String> = graph.entry(file.clone()).or_default();
            for mention in mentions.iter().filter(|m| !m.re_export) {
                let target = self
                    .absolute(&mention.scope, &mention.segments, 0)
                    .and_then(|path| self.file_of(&path, 0));
                if let Some(target) = target.filter(|t| t != file) {
                    edges
                        .entry(target)
                        .or_insert_with(|| mention.segments.join("::"));
                }
            }
        }
        graph
    }
}

/// The leaves of a `use` tree (the tokens between `use` and `;`): each leaf's path, and the
/// name it is renamed to. `a::{self, b as c}` gives `a` and `a::b` (as `c`).
fn use_tree(tokens: &[String]) -> Vec<(Vec<String>, Option<String>)> {
    fn tree(
        tokens: &[String],
        at: &mut usize,
        prefix: &[String],
        leaves: &mut Vec<(Vec<String>, Option<String>)>,
    ) {
        let mut path = prefix.to_vec();
        loop {
            match tokens[*at].as_str() {
                "::" => *at += 1,
                "{" => {
                    *at += 1;
                    while tokens[*at] != "}" {
                        tree(tokens, at, &path, leaves);
                        if tokens[*at] == "," {
                            *at += 1;
                        }
                    }
                    *at += 1;
                    return;
                }
                "*" => {
                    *at += 1;
                    path.push("*".into());
                    leaves.push((path, None));
                    return;
                }
                segment => {
                    path.push(segment.to_string());
                    *at += 1;
                    if tokens.get(*at).is_some_and(|t| t == "::") {
                        continue;
                    }
                    let alias = (tokens.get(*at).is_some_and(|t| t == "as")).then(|| {
                        *at += 2;
                        tokens[*at - 1].clone()
                    });
                    if path.last().is_some_and(|s| s == "self") {
                        path.pop();
                    }
                    leaves.push((path, alias));
                    return;
                }
            }
        }
    }
    let mut leaves = Vec::new();
    let mut tokens = tokens.to_vec();
    tokens.push(";".into());
    tree(&tokens, &mut 0, &[], &mut leaves);
    leaves
}

/// `text` with its comments, string literals and character literals replaced by spaces.
fn blank(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut nesting = 0;
            loop {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (start == 0 || !ident(chars[start - 1]) || chars[start - 1] == 'b')
            && matches!(next, Some('"' | '#'))
            && chars[i + 1..].iter().find(|&&c| c != '#') == Some(&'"')
        {
            // A raw string, `r#"…"#`.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            i += 2 + hashes;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while chars[i..].len() >= close.len() && chars[i..i + close.len()] != close[..] {
                i += 1;
            }
            i += close.len();
        } else if c == '"' {
            i += 1;
            while chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal (not a lifetime): `'x'` or `'\n'`.
            i += 1;
            while chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
            continue;
        }
        out.extend(
            chars[start..i]
                .iter()
                .map(|&c| if c == '\n' { '\n' } else { ' ' }),
        );
    }
    out
}

/// The tokens of blanked source: identifiers (`r#` dropped), `::`, and single punctuation
/// characters; numbers are left out.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == 'r'
            && chars.get(i + 1) == Some(&'#')
            && chars.get(i + 2).is_some_and(|&c| ident(c))
        {
            i += 2;
        } else if ident(c) {
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            if !c.is_ascii_digit() {
                tokens.push(chars[start..i].iter().collect());
            }
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}

fn is_ident(token: &str) -> bool {
    token.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// The index of the bracket that closes the one at `open`.
fn matching(tokens: &[String], open: usize) -> usize {
    let mut nesting = 0;
    for (j, t) in tokens.iter().enumerate().skip(open) {
        match t.as_str() {
            "(" | "[" | "{" => nesting += 1,
            ")" | "]" | "}" => {
                nesting -= 1;
                if nesting == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    panic!("an unclosed bracket")
}

/// The index after the item starting at `start`: after its `;`, or after its braces.
fn item_end(tokens: &[String], start: usize) -> usize {
    let mut j = start;
    loop {
        match tokens[j].as_str() {
            ";" => return j + 1,
            "{" => return matching(tokens, j) + 1,
            "(" | "[" => j = matching(tokens, j) + 1,
            _ => j += 1,
        }
    }
}

type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// A cycle of `graph`, as its files with the first repeated at the end; the first one a
/// depth-first search in file order meets.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        file: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|f| f == file) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(file.to_string());
            return Some(cycle);
        }
        if !done.insert(file.to_string()) {
            return None;
        }
        stack.push(file.to_string());
        for next in graph.get(file).into_iter().flat_map(|edges| edges.keys()) {
            if let Some(cycle) = visit(graph, next, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|file| visit(graph, file, &mut Vec::new(), &mut done))
}

/// The shortest chain of dependencies from `from` to a file that `target` accepts.
fn find_path(graph: &Graph, from: &str, target: impl Fn(&str) -> bool) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_string()]);
    while let Some(file) = queue.pop_front() {
        if target(&file) {
            let mut chain = vec![file.clone()];
            while let Some(previous) = came_from.get(chain.last().expect("a file")) {
                chain.push(previous.clone());
            }
            chain.reverse();
            return Some(chain);
        }
        for next in graph.get(&file).into_iter().flat_map(|edges| edges.keys()) {
            if next != from && !came_from.contains_key(next) {
                came_from.insert(next.clone(), file.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// Every `.rs` file under `dir`, as `(path relative to root, path)`.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(root).expect("a file under the root");
            files.push((name.to_string_lossy().replace('\\', "/"), path));
        }
    }
}
