//! Simplification time per example, and for chains of 10, 100 and 1000
//! layers (to see that it grows linearly with the number of definitions).

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

fn raw_gradient(text: &str) -> netgrad::autodiff::Gradient {
    let dag = netgrad::front_end(text).unwrap();
    let wrt = netgrad::autodiff::resolve_wrt(&dag.program, &[]).unwrap();
    netgrad::autodiff::differentiate(dag, &wrt)
}

#[divan::bench(args = EXAMPLES)]
fn example(b: divan::Bencher, name: &str) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "examples",
        &format!("{name}.net"),
    ]
    .iter()
    .collect();
    let g = raw_gradient(&std::fs::read_to_string(path).unwrap());
    b.with_inputs(|| g.clone())
        .bench_values(netgrad::simplify::gradient);
}

/// A chain of `n` tanh layers of width 4: n forward and about 3n adjoint definitions.
pub fn chain(n: usize) -> String {
    let mut src = String::from("dim W = 4\ninput x[W], t[W]\n");
    for l in 1..=n {
        src.push_str(&format!("param w{l}[W, W]\n"));
    }
    src.push_str("h0[j] = x[j]\n");
    for l in 1..=n {
        src.push_str(&format!(
            "h{l}[j] = tanh(sum(i, w{l}[j, i] * h{}[i]))\n",
            l - 1
        ));
    }
    src.push_str(&format!("loss E = 0.5 * sum(k, (h{n}[k] - t[k])^2)\n"));
    src
}

#[divan::bench(args = [10, 100, 1000])]
fn layers(b: divan::Bencher, n: usize) {
    let g = raw_gradient(&chain(n));
    b.with_inputs(|| g.clone())
        .bench_values(netgrad::simplify::gradient);
}
