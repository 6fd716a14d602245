//! The compiler's own wall time per example: parse, check, differentiate and
//! generate Rust.

use std::path::PathBuf;

fn main() {
    divan::main();
}

const EXAMPLES: &[&str] = &[
    "batch_mlp",
    "bishop",
    "fanout",
    "mlp_mnist",
    "softmax_regression",
    "tied_autoencoder",
    "weight_decay",
    "xor",
];

#[divan::bench(args = EXAMPLES)]
fn compile(b: divan::Bencher, name: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "examples",
        &format!("{name}.net"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(path).unwrap();
    b.bench(|| {
        let dag = netgrad::front_end(&text).unwrap();
        let wrt = netgrad::autodiff::resolve_wrt(&dag.program, &[]).unwrap();
        let g = netgrad::autodiff::differentiate(dag, &wrt);
        let options = netgrad::codegen::Options {
            float: netgrad::Float::F64,
            source: name.to_string(),
            share: true,
        };
        netgrad::codegen::generate(&g, &options).unwrap()
    });
}
