//! Compiles the benchmarked networks with netgrad's build-script API: every
//! example (the list is `netgrad_benches::EXAMPLES`; a test checks they agree).

const EXAMPLES: &[&str] = &[
    "batch_mlp",
    "bishop",
    "conv1d",
    "fanout",
    "huber_regression",
    "maxpool",
    "mlp_mnist",
    "mlp_mnist_batch",
    "softmax_regression",
    "tied_autoencoder",
    "weight_decay",
    "xor",
];

fn main() {
    for net in EXAMPLES {
        if let Err(e) = netgrad::Builder::new().compile(format!("../examples/{net}.net")) {
            panic!("\n{e}");
        }
    }
}
