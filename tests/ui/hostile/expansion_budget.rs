// Blocks that use a block twice double at each level: 15 levels would be 32,768 layers. The
// expansion has a budget of 20,000 layers, refused at the instance that passes it, in well
// under a second instead of minutes.
stride::network! {
    block B0() {
        a: relu,
    }

    block B1() {
        x: B0(),
        y: B0(),
    }

    block B2() {
        x: B1(),
        y: B1(),
    }

    block B3() {
        x: B2(),
        y: B2(),
    }

    block B4() {
        x: B3(),
        y: B3(),
    }

    block B5() {
        x: B4(),
        y: B4(),
    }

    block B6() {
        x: B5(),
        y: B5(),
    }

    block B7() {
        x: B6(),
        y: B6(),
    }

    block B8() {
        x: B7(),
        y: B7(),
    }

    block B9() {
        x: B8(),
        y: B8(),
    }

    block B10() {
        x: B9(),
        y: B9(),
    }

    block B11() {
        x: B10(),
        y: B10(),
    }

    block B12() {
        x: B11(),
        y: B11(),
    }

    block B13() {
        x: B12(),
        y: B12(),
    }

    block B14() {
        x: B13(),
        y: B13(),
    }

    block B15() {
        x: B14(),
        y: B14(),
    }

    pub struct Net: [3, 8, 8] {
        body: B15(),
    }
}

fn main() {}
