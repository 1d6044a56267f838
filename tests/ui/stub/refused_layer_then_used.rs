// One refused layer: code that uses the network's constants, methods and layers adds no
// errors of its own.
stride::network! {
    pub struct Classifier: [3, 32, 32] {
        conv1: conv2d(16, kernel = 3, padding = 1),
        bn1: batch_norm2d(),
        conv2: conv2d(32, kernel = 40),
        flatten: flatten,
        fc: linear(10),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out: [usize; 1] = Classifier::OUTPUT;
    assert_eq!(Classifier::INPUT, [3, 32, 32]);
    println!("{out:?} {} {} {:?}", Classifier::PARAMS, Classifier::MACS, Classifier::RECEPTIVE_FIELD);
    println!("{}", Classifier::SUMMARY);
    let mut net = Classifier::init(0);
    let y = net.forward(stride::ndarray::Array4::zeros((1, 3, 32, 32)).view())?;
    let (batch, classes) = y.dim();
    println!("{batch} {classes} {:?}", net.conv1().weight().dim());
    net.fc_mut();
    net.fuse()?;
    net.unfuse();
    let _ = (net.is_fused(), Classifier::load_safetensors("classifier.safetensors")?);
    net.save_safetensors("again.safetensors")?;
    Ok(())
}
