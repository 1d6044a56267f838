// `#[keys(..)]` numbers a sequence's items; a layer has none, and a pattern needs one `{}`.
stride::network! {
    pub struct Net: [3, 8, 8] {
        #[keys("denselayer{}", from = 1)]
        conv: conv2d(8, kernel = 3),
        #[keys("denselayer")]
        body: [relu, relu],
    }
}

fn main() {}
