// Networks of another invocation used as layers, where the generated code once failed to
// compile: after a flatten (a network takes [C, H, W]), and one whose parameter count is
// beyond what a sum can hold; and a layer named like the macro's own code.
mod parts {
    stride::network! {
        pub struct Head: [64, 1, 1] {
            fc: conv2d(10, kernel = 1),
        }

        pub struct Huge: [1, 1, 1] {
            flatten: flatten,
            a: linear(4294967296),
            b: linear(4294967296),
        }
    }
}

stride::network! {
    pub struct Classifier: [4, 4, 4] {
        flatten: flatten,
        head: parts::Head => [10, 1, 1],
    }

    pub struct Named: [3, 8, 8] {
        __fused_c: conv2d(4, kernel = 1),
    }
}

fn main() {}
