#![deny(deprecated)] // turns the warning into an error so this case can show it

stride::network! {
    #[lints(floor_drops_input = warn)]
    pub struct Net: [3, 32, 32] {
        pool: max_pool2d(kernel = 3, stride = 2),
    }
}

fn main() {}
