// The invocation does not parse: the network still exists for the code that uses it, so the
// parse error is the only one.
stride::network! {
    pub struct Classifier: [3, 32, 32] {
        conv1: conv2d(16, kernel = 3, padding = 1)
        flatten: flatten,
        fc: linear(10),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out: [usize; 1] = Classifier::OUTPUT;
    assert_eq!(Classifier::INPUT, [3, 32, 32]);
    let net = Classifier::init(0);
    let y = net.forward(stride::ndarray::Array4::zeros((1, 3, 32, 32)).view())?;
    let (_batch, _classes) = y.dim();
    println!("{out:?} {}", Classifier::SUMMARY);
    Ok(())
}
