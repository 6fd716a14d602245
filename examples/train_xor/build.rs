//! Compiles the XOR network to Rust at build time; src/main.rs includes it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // On errors, the diagnostics as `netgrad check` prints them.
    netgrad::Builder::new().compile("../xor.net")?;
    Ok(())
}
