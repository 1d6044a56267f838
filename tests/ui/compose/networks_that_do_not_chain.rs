use stride::runtime::typed::Then;

stride::network! {
    pub struct Stem: [3, 32, 32] {
        conv1: conv2d(16, kernel = 3, stride = 2, padding = 1),
    }
}

stride::network! {
    pub struct Head: [32, 16, 16] {
        conv2: conv2d(8, kernel = 1),
    }
}

fn main() {
    let _ = Stem::init(0).then(Head::init(0));
}
