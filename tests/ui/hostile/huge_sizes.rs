// Sizes past what the arithmetic holds are refused at their tokens, never wrapped around.
stride::network! {
    pub struct Kernel: [3, 8, 8] {
        c: conv2d(8, kernel = 18446744073709551615),
    }

    pub struct Pad: [3, 8, 8] {
        c: conv2d(8, kernel = 3, padding = 9223372036854775808),
    }

    pub struct Dilation: [3, 8, 8] {
        c: conv2d(8, kernel = 3, dilation = 9223372036854775807),
    }

    pub struct Transposed: [3, 8, 8] {
        c: conv_transpose2d(8, kernel = 3, stride = 4294967296, output_padding = 4294967295),
    }

    pub struct Input: [9223372036854775807, 1, 2] {
        f: flatten,
    }

    pub struct Pool: [3, 8, 8] {
        p: max_pool2d(kernel = 18446744073709551615, padding = 9223372036854775807),
    }

    pub struct Upsample: [3, 8, 8] {
        u: upsample(scale = 18446744073709551615),
    }

    pub struct Linear: [3, 8, 8] {
        f: flatten,
        l: linear(18446744073709551615),
    }
}

fn main() {}
