//! Compiles the XOR network to Rust at build time; src/main.rs includes it.

fn main() {
    if let Err(e) = netgrad::Builder::new().compile("../xor.net") {
        // The diagnostics, rendered as netgrad check would.
        panic!("\n{e}");
    }
}
