//! Repetition (`[target; n]`, `..[target; n]`), keys numbered by a pattern
//! (`#[keys("denselayer{}", from = 1)]`), and arithmetic in arguments (`hidden = in * 6`).
stride::network! {
    /// A 1x1 expansion by `ratio`, a depthwise 3x3, and a projection back.
    block Inverted(width, ratio) {
        expand: conv2d(width * ratio, kernel = 1, bias = false),
        depthwise: conv2d(width * ratio, kernel = 3, padding = 1, groups = width * ratio),
        project: conv2d(width, kernel = 1),
    }

    pub struct Stack: [8, 16, 16] {
        body: [Inverted(8, 6); 3],
        tail: [conv2d(16, kernel = 1), ..[Inverted(16, 2); 2], relu],
        #[keys("denselayer{}", from = 1)]
        dense: [conv2d(16, kernel = 3, padding = (1 + 2) / 3); 2],
        head: conv2d(4 * (2 + 2) - 16 / 2 - 1, kernel = 1),
    }
}

fn main() {
    let keys: Vec<&str> = Stack::GRAPH.layers.iter().map(|l| l.key).collect();
    assert_eq!(
        keys,
        [
            "body.0.expand", "body.0.depthwise", "body.0.project",
            "body.1.expand", "body.1.depthwise", "body.1.project",
            "body.2.expand", "body.2.depthwise", "body.2.project",
            "tail.0",
            "tail.1.expand", "tail.1.depthwise", "tail.1.project",
            "tail.2.expand", "tail.2.depthwise", "tail.2.project",
            "tail.3",
            "dense.denselayer1", "dense.denselayer2",
            "head",
        ]
    );
    assert_eq!(Stack::OUTPUT, [7, 16, 16]);
    let net = Stack::init(0);
    assert_eq!(net.body_1_expand().weight().dim(), (48, 8, 1, 1));
    assert_eq!(net.tail_2_depthwise().weight().dim(), (32, 1, 3, 3));
    assert_eq!(net.dense_denselayer2().weight().dim(), (16, 16, 3, 3));
}
