//! The picture as SVG: the layout's boxes and polylines, with the cards' text escaped for XML.

use std::fmt::Write;

use super::cards::{Class, Picture};
use super::layout::{LINE, Layout, MARGIN, PAD, layout};
use crate::summary::edges::{EdgeKind, Source};

impl Picture {
    /// The picture as an SVG document, laid out by the network's structure: one `<g
    /// class="layer">` per row and one `<polyline class="edge …">` per edge, each naming the
    /// rows it joins (`data-from`, `data-to`: a row's index, or `input`).
    pub fn svg(&self) -> String {
        write(self, &layout(self))
    }
}

/// Each edge kind's colour, dash pattern and class.
fn style(kind: EdgeKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        EdgeKind::Data => ("#475569", "", "data"),
        EdgeKind::Shortcut => ("#2563eb", "5 3", "shortcut"),
        EdgeKind::Gate => ("#c2410c", "2 3", "gate"),
    }
}

const KINDS: [EdgeKind; 3] = [EdgeKind::Data, EdgeKind::Shortcut, EdgeKind::Gate];

/// The SVG document of `picture` laid out as `layout`.
fn write(picture: &Picture, layout: &Layout) -> String {
    let mut out = String::with_capacity(600 * picture.cards.len() + 1000);
    let (w, h) = (layout.width, layout.height);
    // `write!` into a `String` cannot fail.
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", xml(&picture.title));
    out.push_str("<defs>\n");
    for kind in KINDS {
        let (colour, _, class) = style(kind);
        let _ = writeln!(
            out,
            r#"<marker id="arrow-{class}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{colour}"/></marker>"#
        );
    }
    out.push_str("</defs>\n");
    out.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    out.push('\n');
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{:.1}" font-size="14" font-weight="bold">{}</text>"#,
        MARGIN + 14.0,
        xml(&picture.title)
    );

    out.push_str("<g class=\"edges\" fill=\"none\" stroke-width=\"1.3\">\n");
    for (edge, points) in picture.edges.iter().zip(&layout.routes) {
        let (colour, dash, class) = style(edge.kind);
        let from = match edge.from {
            Source::Input => "input".to_string(),
            Source::Row(row) => row.to_string(),
        };
        let _ = write!(
            out,
            r#"<polyline class="edge {class}" data-from="{from}" data-to="{}" stroke="{colour}""#,
            edge.to
        );
        if !dash.is_empty() {
            let _ = write!(out, r#" stroke-dasharray="{dash}""#);
        }
        out.push_str(" points=\"");
        for (i, (x, y)) in points.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{x:.1},{y:.1}");
        }
        let _ = writeln!(out, r#"" marker-end="url(#arrow-{class})"/>"#);
    }
    out.push_str("</g>\n");

    for (index, (card, rect)) in picture.cards.iter().zip(&layout.boxes).enumerate() {
        let (class, id) = match index {
            0 => ("input", "input".to_string()),
            row => ("layer", format!("row-{}", row - 1)),
        };
        let stroke = if card.class == Class::Join {
            "#c2410c"
        } else {
            "#64748b"
        };
        let _ = writeln!(
            out,
            r#"<g class="{class}" id="{id}"><title>{}</title>"#,
            xml(&card.tooltip)
        );
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="5" fill="{}" stroke="{stroke}"/>"#,
            rect.x,
            rect.y,
            rect.w,
            rect.h,
            card.class.fill()
        );
        let centre = rect.x + rect.w / 2.0;
        for (i, line) in card.lines.iter().enumerate() {
            // The baseline, about a quarter of a line above the line's bottom.
            let y = rect.y + PAD[1] + (i as f64 + 0.75) * LINE;
            let weight = if i == 0 { r#" font-weight="bold""# } else { "" };
            let _ = writeln!(
                out,
                r#"<text x="{centre:.1}" y="{y:.1}" text-anchor="middle"{weight}>{}</text>"#,
                xml(line)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// `text` with XML's five special characters escaped, for an element's text or a quoted
/// attribute; characters XML 1.0 does not allow (control characters) are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(
            xml(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(xml("linear 512->1000"), "linear 512-&gt;1000");
        assert_eq!(xml("a\u{1}b"), "ab");
    }
}
