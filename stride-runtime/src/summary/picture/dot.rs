//! The picture as a Graphviz DOT digraph, for Graphviz to lay out.

use std::fmt::Write;

use super::cards::Picture;
use crate::summary::edges::{EdgeKind, Source};

impl Picture {
    /// The picture as a Graphviz DOT digraph: the input `input`, row `i` as node `r{i}`,
    /// shortcuts dashed and gates dotted. `dot -Tsvg` lays it out.
    pub fn dot(&self) -> String {
        write(self)
    }
}

/// The DOT digraph of `picture`: node `input`, node `r{i}` for row `i`, one edge per edge.
fn write(picture: &Picture) -> String {
    let mut out = String::with_capacity(200 * picture.cards.len() + 500);
    // `write!` into a `String` cannot fail.
    let _ = writeln!(out, "digraph {} {{", quoted(&picture.name));
    let _ = writeln!(
        out,
        "  graph [label={}, labelloc=t, fontname=\"monospace\", nodesep=0.25, ranksep=0.3];",
        quoted(&picture.title)
    );
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"monospace\", fontsize=10, penwidth=0.8];\n",
    );
    out.push_str("  edge [arrowsize=0.6, color=\"#475569\"];\n");
    for (index, card) in picture.cards.iter().enumerate() {
        let id = match index {
            0 => "input".to_string(),
            row => format!("r{}", row - 1),
        };
        let _ = writeln!(
            out,
            "  {id} [label={}, tooltip={}, fillcolor=\"{}\"];",
            quoted(&card.lines.join("\n")),
            quoted(&card.tooltip),
            card.class.fill()
        );
    }
    for edge in &picture.edges {
        let from = match edge.from {
            Source::Input => "input".to_string(),
            Source::Row(row) => format!("r{row}"),
        };
        let style = match edge.kind {
            EdgeKind::Data => "",
            EdgeKind::Shortcut => " [style=dashed, color=\"#2563eb\"]",
            EdgeKind::Gate => " [style=dotted, color=\"#c2410c\"]",
        };
        let _ = writeln!(out, "  {from} -> r{}{style};", edge.to);
    }
    out.push_str("}\n");
    out
}

/// `text` as a DOT double-quoted string: backslashes and quotes escaped (so Graphviz reads no
/// escape of its own in them), line breaks as `\n`, other control characters dropped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_quotes_backslashes_and_line_breaks() {
        assert_eq!(quoted(r#"a "b" \l"#), r#""a \"b\" \\l""#);
        assert_eq!(quoted("x\ny"), r#""x\ny""#);
        assert_eq!(quoted("tab\there"), r#""tabhere""#);
    }
}
