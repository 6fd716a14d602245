//! Compiles the benchmarked networks with netgrad's build-script API.

fn main() {
    for net in ["bishop", "mlp_mnist"] {
        if let Err(e) = netgrad::Builder::new().compile(format!("../examples/{net}.net")) {
            panic!("\n{e}");
        }
    }
}
