//! The compiler's own wall time per example: parse, check, differentiate,
//! simplify and generate Rust, as `netgrad compile` does.

use netgrad_benches::{example, EXAMPLES};

fn main() {
    divan::main();
}

#[divan::bench(args = EXAMPLES)]
fn compile(b: divan::Bencher, name: &str) {
    let text = example(name);
    b.bench(|| {
        // As `netgrad compile` does it: simplified, shared subterms hoisted,
        // numbers computed from run-time sizes found.
        let (g, _, numbers) = netgrad::derive_symbolic(&text, &[], true).unwrap();
        let options = netgrad::codegen::Options {
            float: netgrad::Float::F64,
            source: name.to_string(),
            share: true,
            no_std: false,
            features: Default::default(),
            math: Default::default(),
        };
        netgrad::codegen::generate_sized(&g, &options, &numbers).unwrap()
    });
}
