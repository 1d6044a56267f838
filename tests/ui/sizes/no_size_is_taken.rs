// A concat of the input and its upsampling by 2 never meets, at any size.
stride::network! {
    pub struct Never: [8, H, W] {
        cat: concat {
            input: identity,
            up: upsample(2),
        },
    }
}

fn main() {}
