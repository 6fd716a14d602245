//! Simplification time per example, and for chains of 10, 100 and 1000
//! layers (to see that it grows linearly with the number of definitions).

use netgrad_benches::{example as example_text, raw_gradient, EXAMPLES};

fn main() {
    divan::main();
}

#[divan::bench(args = EXAMPLES)]
fn example(b: divan::Bencher, name: &str) {
    let g = raw_gradient(&example_text(name));
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
