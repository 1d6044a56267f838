// Nested repetitions multiply; past 4096 layers the macro refuses before writing them out.
stride::network! {
    pub struct Net: [3, 8, 8] {
        body: [[relu; 1000]; 1000],
    }
}

fn main() {}
