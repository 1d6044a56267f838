stride::network! {
    block Down(planes) {
        conv: conv2d(planes, kernel = 3, stride = 2),
    }

    pub struct Net: [3, 8, 8] {
        down1: Down(16),
        down2: Down(32),
        down3: Down(64),
    }
}

fn main() {}
