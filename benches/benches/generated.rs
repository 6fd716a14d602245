//! Per-call time of the generated `loss_flat` and `gradient_flat`.

use divan::black_box;
use netgrad_benches::{bishop, mlp_mnist, values};

fn main() {
    divan::main();
}

#[divan::bench]
fn bishop_loss(b: divan::Bencher) {
    let (inputs, params) = (values(bishop::N_INPUTS, 1), values(bishop::N_PARAMS, 2));
    b.bench(|| bishop::loss_flat(black_box(&inputs), black_box(&params)));
}

#[divan::bench]
fn bishop_gradient(b: divan::Bencher) {
    let (inputs, params) = (values(bishop::N_INPUTS, 1), values(bishop::N_PARAMS, 2));
    let mut grad = vec![0.0; bishop::N_PARAMS];
    b.bench_local(|| {
        bishop::gradient_flat(black_box(&inputs), black_box(&params), black_box(&mut grad))
    });
}

#[divan::bench]
fn mlp_mnist_loss(b: divan::Bencher) {
    let (inputs, params) = (
        values(mlp_mnist::N_INPUTS, 1),
        values(mlp_mnist::N_PARAMS, 2),
    );
    b.bench(|| mlp_mnist::loss_flat(black_box(&inputs), black_box(&params)));
}

#[divan::bench]
fn mlp_mnist_gradient(b: divan::Bencher) {
    let (inputs, params) = (
        values(mlp_mnist::N_INPUTS, 1),
        values(mlp_mnist::N_PARAMS, 2),
    );
    let mut grad = vec![0.0; mlp_mnist::N_PARAMS];
    b.bench_local(|| {
        mlp_mnist::gradient_flat(black_box(&inputs), black_box(&params), black_box(&mut grad))
    });
}
