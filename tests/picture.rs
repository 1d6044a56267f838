//! The picture of a network (`Summary::picture`): its edges are the graph's, its SVG is
//! well-formed XML with one box per row, no two boxes overlap and no edge crosses a box; its
//! DOT declares every node once and joins them by the same edges.

use std::collections::HashMap;
use stride::network;

use stride::runtime::graph::{Graph, Node};
use stride::runtime::summary::{Edge, EdgeKind, Picture, Source, Summary};

network! {
    use ::stride::zoo::Inception;

    /// A residual whose shortcut has a layer, then one whose shortcut is its input.
    pub struct TwoResiduals: [4, 8, 8] {
        stem: conv2d(8, kernel = 3, padding = 1),
        residual {
            conv: conv2d(16, kernel = 3, stride = 2, padding = 1),
            bn: batch_norm2d(),
        } shortcut proj: [conv2d(16, kernel = 1, stride = 2)],
        residual {
            conv3: conv2d(16, kernel = 3, padding = 1),
        },
        relu: relu,
    }

    /// A concat of a convolution, a pool then a convolution, and the input itself, then a
    /// squeeze-excitation gate.
    pub struct Branches: [4, 8, 8] {
        mix: concat {
            a: conv2d(4, kernel = 1),
            b: [max_pool2d(kernel = 3, stride = 1, padding = 1), conv2d(4, kernel = 1)],
            c: identity,
        },
        se: scale {
            pool: adaptive_avg_pool2d(1),
            fc: conv2d(12, kernel = 1),
            gate: sigmoid,
        },
    }

    /// GoogLeNet's first inception block.
    pub struct Inception3a: [192, 28, 28] {
        inception3a: Inception(64, 96, 128, 16, 32, 32),
    }
}

/// An edge from row `from` (`None`: the input) into row `to`.
fn edge(from: Option<usize>, to: usize, kind: EdgeKind) -> Edge {
    let from = from.map_or(Source::Input, Source::Row);
    Edge { from, to, kind }
}

#[test]
fn a_residual_joins_its_main_path_and_its_shortcut_or_its_input_at_the_add() {
    let summary = TwoResiduals::SUMMARY;
    let names: Vec<&str> = summary.layers.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        [
            "stem", "conv", "bn", "proj.0", "residual", "conv3", "residual", "relu"
        ]
    );
    use EdgeKind::*;
    assert_eq!(
        summary.edges(),
        [
            edge(None, 0, Data),
            edge(Some(0), 1, Data),
            edge(Some(1), 2, Data),
            // The shortcut's layer takes the residual's input.
            edge(Some(0), 3, Shortcut),
            edge(Some(2), 4, Data),
            edge(Some(3), 4, Shortcut),
            edge(Some(4), 5, Data),
            edge(Some(5), 6, Data),
            // No shortcut layer: the input itself skips to the add.
            edge(Some(4), 6, Shortcut),
            edge(Some(6), 7, Data),
        ]
    );
}

#[test]
fn a_concat_joins_its_branches_in_order_and_a_gate_scales_its_input() {
    let summary = Branches::SUMMARY;
    let names: Vec<&str> = summary.layers.iter().map(|l| l.name).collect();
    assert_eq!(
        names,
        [
            "mix.a", "mix.b.0", "mix.b.1", "mix.c", "mix", "se.pool", "se.fc", "se.gate", "se"
        ]
    );
    use EdgeKind::*;
    assert_eq!(
        summary.edges(),
        [
            edge(None, 0, Data),
            edge(None, 1, Data),
            edge(Some(1), 2, Data),
            edge(None, 3, Data),
            edge(Some(0), 4, Data),
            edge(Some(2), 4, Data),
            edge(Some(3), 4, Data),
            edge(Some(4), 5, Gate),
            edge(Some(5), 6, Gate),
            edge(Some(6), 7, Gate),
            edge(Some(4), 8, Data),
            edge(Some(7), 8, Gate),
        ]
    );
}

/// The structure the executor walks, counted: the residuals, and each concat's branches in
/// the order their joins' rows come (after their branches').
#[derive(Debug, Default, PartialEq)]
struct Joins {
    residuals: usize,
    concats: Vec<usize>,
    scales: usize,
}

fn count(nodes: &[Node], joins: &mut Joins) {
    for node in nodes {
        match node {
            Node::Residual { main, shortcut, .. } => {
                count(main, joins);
                count(shortcut.unwrap_or(&[]), joins);
                joins.residuals += 1;
            }
            Node::Concat(branches) => {
                branches.iter().for_each(|b| count(b, joins));
                joins.concats.push(branches.len());
            }
            Node::Scale(gate) => {
                count(gate, joins);
                joins.scales += 1;
            }
            Node::Layer(_) | Node::Group(_) | Node::External(_) => {}
        }
    }
}

/// Every row but a join has one input; the joins are the graph's residuals (two inputs),
/// concats (one per branch) and gates (two).
fn check_edges_against_graph(graph: &'static Graph) {
    let summary = graph.summary();
    let edges = summary.edges();
    let mut inputs = vec![0usize; summary.layers.len()];
    for e in &edges {
        inputs[e.to] += 1;
        if let Source::Row(from) = e.from {
            assert!(from < e.to, "{}: edge {e:?} runs backwards", graph.name);
        }
    }
    let mut expected = Joins::default();
    count(graph.nodes, &mut expected);
    let mut found = Joins::default();
    for (row, n) in summary.layers.iter().zip(&inputs) {
        match row.kind {
            "residual add" => {
                assert_eq!(*n, 2, "{}: `{}`", graph.name, row.name);
                found.residuals += 1;
            }
            "concat" => found.concats.push(*n),
            "scale" => {
                assert_eq!(*n, 2, "{}: `{}`", graph.name, row.name);
                found.scales += 1;
            }
            _ => assert_eq!(*n, 1, "{}: `{}`", graph.name, row.name),
        }
    }
    assert_eq!(found, expected, "{}", graph.name);
}

#[test]
fn edges_match_the_graphs_residuals_concats_and_gates() {
    check_edges_against_graph(&TwoResiduals::GRAPH);
    check_edges_against_graph(&Branches::GRAPH);
    check_edges_against_graph(&Inception3a::GRAPH);
    check_edges_against_graph(&stride::zoo::ResNet18::GRAPH);
    check_edges_against_graph(&stride::zoo::ResNet101::GRAPH);
    check_edges_against_graph(&stride::zoo::DenseNet121::GRAPH);
    check_edges_against_graph(&stride::zoo::GoogLeNet::GRAPH);
    check_edges_against_graph(&stride::zoo::MobileNetV3Small::GRAPH);
    check_edges_against_graph(&stride::zoo::EfficientNetB0::GRAPH);
    check_edges_against_graph(&stride::zoo::ConvNeXtTiny::GRAPH);
}

/// One XML element: its name, attributes, and the index of its parent.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: HashMap<String, String>,
    parent: Option<usize>,
}

/// The elements of `text`, checking that it is well-formed XML: one root, every tag closed in
/// order, attributes quoted and not repeated, `<` never in text or values, and `&` only as an
/// entity.
fn parse_xml(text: &str) -> Vec<Element> {
    fn entities(s: &str) {
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            let end = rest[at..].find(';').expect("an `&` that starts no entity") + at;
            let name = &rest[at + 1..end];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                    || (name.starts_with('#') && name.len() > 1),
                "unknown entity `&{name};`"
            );
            rest = &rest[end + 1..];
        }
    }
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut roots = 0;
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        let between = &rest[..lt];
        entities(between);
        assert!(
            !open.is_empty() || between.trim().is_empty(),
            "text outside the root"
        );
        let gt = rest[lt..].find('>').expect("an unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let index = open.pop().expect("a closing tag without an opening one");
            assert_eq!(
                elements[index].name,
                name.trim(),
                "tags closed out of order"
            );
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        let name = &tag[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == ':'),
            "bad element name `{name}`"
        );
        let mut attributes = HashMap::new();
        let mut attrs = tag[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs.find('=').expect("an attribute without a value");
            let key = attrs[..eq].trim();
            assert!(
                attrs[eq + 1..].starts_with('"'),
                "an unquoted attribute `{key}`"
            );
            let close = attrs[eq + 2..].find('"').expect("an unclosed attribute") + eq + 2;
            let value = &attrs[eq + 2..close];
            assert!(!value.contains('<'), "`<` in attribute `{key}`");
            entities(value);
            assert!(
                attributes
                    .insert(key.to_string(), value.to_string())
                    .is_none(),
                "attribute `{key}` twice"
            );
            attrs = attrs[close + 1..].trim_start();
        }
        if open.is_empty() {
            roots += 1;
        }
        elements.push(Element {
            name: name.to_string(),
            attributes,
            parent: open.last().copied(),
        });
        if !empty {
            open.push(elements.len() - 1);
        }
    }
    assert!(rest.trim().is_empty(), "text after the root");
    assert!(open.is_empty(), "unclosed elements");
    assert_eq!(roots, 1, "one root element");
    elements
}

/// A box in the SVG: `[left, top, right, bottom]`.
type Rect = [f64; 4];

fn number(element: &Element, key: &str) -> f64 {
    element.attributes[key].parse().expect("a number")
}

/// Whether the axis-aligned segment from `a` to `b` passes through the inside of `rect`.
fn crosses(a: (f64, f64), b: (f64, f64), rect: Rect) -> bool {
    let [left, top, right, bottom] = rect;
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    x1 > left + 0.5 && x0 < right - 0.5 && y1 > top + 0.5 && y0 < bottom - 0.5
}

fn on_border(p: (f64, f64), rect: Rect) -> bool {
    let [left, top, right, bottom] = rect;
    let near = |a: f64, b: f64| (a - b).abs() < 0.11;
    let inside_x = p.0 >= left - 0.11 && p.0 <= right + 0.11;
    let inside_y = p.1 >= top - 0.11 && p.1 <= bottom + 0.11;
    (inside_x && (near(p.1, top) || near(p.1, bottom)))
        || (inside_y && (near(p.0, left) || near(p.0, right)))
}

/// The SVG is well-formed, has one box per row (and one for the input) with its text, and
/// one polyline per edge naming the edge's rows; no two boxes overlap, and each polyline runs
/// from its source's box to its target's without crossing another box.
fn check_svg(name: &str, picture: &Picture, summary: &Summary) {
    let svg = picture.svg();
    let elements = parse_xml(&svg);
    assert_eq!(elements[0].name, "svg");

    // Each box: the first `rect` in its group.
    let mut boxes: HashMap<String, Rect> = HashMap::new();
    let mut texts: HashMap<String, usize> = HashMap::new();
    for element in &elements {
        let Some(group) = element.parent.map(|p| &elements[p]) else {
            continue;
        };
        let Some(id) = group.attributes.get("id") else {
            continue;
        };
        match element.name.as_str() {
            "rect" => {
                let (x, y) = (number(element, "x"), number(element, "y"));
                let (w, h) = (number(element, "width"), number(element, "height"));
                assert!(boxes.insert(id.clone(), [x, y, x + w, y + h]).is_none());
            }
            "text" => *texts.entry(id.clone()).or_default() += 1,
            _ => {}
        }
    }
    let layers = elements
        .iter()
        .filter(|e| e.name == "g" && e.attributes.get("class").map(String::as_str) == Some("layer"))
        .count();
    assert_eq!(layers, summary.layers.len(), "{name}: one box per row");
    assert_eq!(
        boxes.len(),
        summary.layers.len() + 1,
        "{name}: and the input's"
    );
    for row in 0..summary.layers.len() {
        assert_eq!(texts[&format!("row-{row}")], 3, "{name}: name, kind, shape");
    }

    let mut sorted: Vec<(&String, &Rect)> = boxes.iter().collect();
    sorted.sort_by(|a, b| a.1[1].total_cmp(&b.1[1]));
    for (i, (a, ra)) in sorted.iter().enumerate() {
        // Boxes below `a`'s bottom cannot overlap it; the scan stops there.
        for (b, rb) in sorted[i + 1..].iter().take_while(|(_, rb)| rb[1] < ra[3]) {
            let apart = ra[2] <= rb[0] || rb[2] <= ra[0];
            assert!(apart, "{name}: boxes `{a}` and `{b}` overlap");
        }
    }

    let key = |from: Source| match from {
        Source::Input => "input".to_string(),
        Source::Row(row) => row.to_string(),
    };
    let id = |from: &str| match from {
        "input" => "input".to_string(),
        row => format!("row-{row}"),
    };
    let drawn: Vec<(String, String, String)> = elements
        .iter()
        .filter(|e| e.name == "polyline")
        .map(|e| {
            let (from, to) = (&e.attributes["data-from"], &e.attributes["data-to"]);
            let points: Vec<(f64, f64)> = e.attributes["points"]
                .split(' ')
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("x,y");
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            let (source, target) = (boxes[&id(from)], boxes[&id(to)]);
            assert!(
                on_border(points[0], source),
                "{name}: {from}->{to} starts off its source"
            );
            assert!(
                on_border(points[points.len() - 1], target),
                "{name}: {from}->{to} ends off its target"
            );
            for pair in points.windows(2) {
                assert!(
                    pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1,
                    "{name}: a slanted segment"
                );
                for (other, rect) in &boxes {
                    if *other != id(from) && *other != id(to) {
                        assert!(
                            !crosses(pair[0], pair[1], *rect),
                            "{name}: edge {from}->{to} crosses `{other}`"
                        );
                    }
                }
            }
            (from.clone(), to.clone(), e.attributes["class"].clone())
        })
        .collect();
    let expected: Vec<(String, String, String)> = summary
        .edges()
        .iter()
        .map(|e| {
            let class = match e.kind {
                EdgeKind::Data => "edge data",
                EdgeKind::Shortcut => "edge shortcut",
                EdgeKind::Gate => "edge gate",
            };
            (key(e.from), e.to.to_string(), class.to_string())
        })
        .collect();
    assert_eq!(drawn, expected, "{name}: the SVG's edges");
}

/// The DOT's braces and quotes balance, it declares `input` and `r0`… once each, and its
/// edges join declared nodes, as the summary's edges do.
fn check_dot(name: &str, picture: &Picture, summary: &Summary) {
    let dot = picture.dot();
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for c in dot.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => {
                depth -= 1;
                assert!(depth >= 0, "{name}: a `}}` closes nothing");
            }
            _ => {}
        }
    }
    assert!(!quoted && depth == 0, "{name}: unbalanced DOT");
    assert!(dot.starts_with("digraph "));

    let mut declared: Vec<String> = Vec::new();
    let mut edges: Vec<(String, String, EdgeKind)> = Vec::new();
    for line in dot.lines().skip(1).map(str::trim) {
        if let Some((from, rest)) = line.split_once(" -> ") {
            let to = rest.split([' ', ';']).next().unwrap();
            let kind = if rest.contains("style=dashed") {
                EdgeKind::Shortcut
            } else if rest.contains("style=dotted") {
                EdgeKind::Gate
            } else {
                EdgeKind::Data
            };
            edges.push((from.to_string(), to.to_string(), kind));
        } else if let Some((id, _)) = line.split_once(" [") {
            // `graph`, `node` and `edge` set the defaults.
            if !["graph", "node", "edge"].contains(&id) {
                declared.push(id.to_string());
            }
        }
    }
    let expected: Vec<String> = std::iter::once("input".to_string())
        .chain((0..summary.layers.len()).map(|r| format!("r{r}")))
        .collect();
    assert_eq!(declared, expected, "{name}: the DOT's nodes");
    for (from, to, _) in &edges {
        assert!(
            declared.contains(from) && declared.contains(to),
            "{name}: {from} -> {to}"
        );
    }
    let node = |from: Source| match from {
        Source::Input => "input".to_string(),
        Source::Row(row) => format!("r{row}"),
    };
    let want: Vec<(String, String, EdgeKind)> = summary
        .edges()
        .iter()
        .map(|e| (node(e.from), format!("r{}", e.to), e.kind))
        .collect();
    assert_eq!(edges, want, "{name}: the DOT's edges");
}

fn check(summary: Summary) {
    let picture = summary.picture();
    check_svg(summary.name, &picture, &summary);
    check_dot(summary.name, &picture, &summary);
}

#[test]
fn svg_and_dot_of_residual_and_concat_networks_have_a_node_per_row_and_the_graphs_edges() {
    check(TwoResiduals::SUMMARY);
    check(Branches::SUMMARY);
    check(Inception3a::SUMMARY);
    check(stride::zoo::ResNet18::SUMMARY);
}

#[test]
fn large_networks_draw_without_overlapping_boxes_or_edges_through_boxes() {
    check(stride::zoo::ResNet101::SUMMARY);
    check(stride::zoo::DenseNet121::SUMMARY);
    check(stride::zoo::GoogLeNet::SUMMARY);
    check(stride::zoo::MobileNetV3Small::SUMMARY);
    check(stride::zoo::EfficientNetB0::SUMMARY);
    check(stride::zoo::ConvNeXtTiny::SUMMARY);
}

#[test]
fn a_summary_at_a_size_draws_its_shapes_at_that_size() {
    let at = stride::zoo::ResNet18::summary_at(224, 224).unwrap();
    let svg = at.picture().svg();
    assert!(svg.contains("<title>ResNet18: input [3, 224, 224]</title>"));
    // `layer4`'s last add, at 224x224.
    assert!(svg.contains(">[512, 7, 7]  rf "));
    assert_eq!(at.edges(), stride::zoo::ResNet18::SUMMARY.edges());
    // The summary itself is at the smallest size; its title says so, as its table does.
    let generic = stride::zoo::ResNet18::SUMMARY.picture().svg();
    assert!(generic.contains("<title>ResNet18: input [3, H, W], H from "));
}

#[test]
fn names_with_markup_are_escaped_in_svg_and_dot() {
    let rows = [stride::runtime::summary::LayerInfo {
        name: "a<b>&\"c\"",
        kind: "odd \\ kind",
        output: &[1],
        params: 0,
        macs: 0,
        receptive_field: None,
        jump: None,
    }];
    let picture = Picture::new("Net<&>", &[1], rows.iter().map(|r| (r, r.output)), &[]);
    let svg = picture.svg();
    parse_xml(&svg);
    assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&quot;"));
    let dot = picture.dot();
    assert!(dot.contains(r#"label="a<b>&\"c\"\nodd \\ kind\n[1]""#));
}
