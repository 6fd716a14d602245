//! Per-call time of the generated `loss_flat` and `gradient_flat` of every
//! example, beside hand-written references for `mlp_mnist` and
//! `mlp_mnist_batch` and `matrixmultiply`'s GEMM on the batched net's three
//! contraction shapes, all in one run so that ratios are meaningful.

use divan::black_box;
use netgrad_benches::{hand, values};

#[path = "../src/gemm.rs"]
mod gemm;

fn main() {
    divan::main();
}

/// A `loss` and a `gradient` bench for each generated module.
macro_rules! generated {
    ($($name:ident),*) => {
        $(
            mod $name {
                use divan::black_box;
                use netgrad_benches::{$name as net, values};

                #[divan::bench]
                fn loss(b: divan::Bencher) {
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    b.bench(|| net::loss_flat(black_box(&inputs), black_box(&params)));
                }

                #[divan::bench]
                fn gradient(b: divan::Bencher) {
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    let mut grad = vec![0.0; net::N_PARAMS];
                    b.bench_local(|| {
                        net::gradient_flat(
                            black_box(&inputs),
                            black_box(&params),
                            black_box(&mut grad),
                        )
                    });
                }
            }
        )*
    };
}

generated!(
    batch_mlp,
    bishop,
    fanout,
    mlp_mnist,
    mlp_mnist_batch,
    softmax_regression,
    tied_autoencoder,
    weight_decay,
    xor
);

/// The hand-written references (`netgrad_benches::hand`).
mod hand_written {
    use super::*;
    use netgrad_benches::{mlp_mnist, mlp_mnist_batch};

    #[divan::bench]
    fn mlp_mnist_loss(b: divan::Bencher) {
        let (inputs, params) = (
            values(mlp_mnist::N_INPUTS, 1),
            values(mlp_mnist::N_PARAMS, 2),
        );
        b.bench(|| hand::mlp_mnist_loss(black_box(&inputs), black_box(&params)));
    }

    #[divan::bench]
    fn mlp_mnist_gradient(b: divan::Bencher) {
        let (inputs, params) = (
            values(mlp_mnist::N_INPUTS, 1),
            values(mlp_mnist::N_PARAMS, 2),
        );
        let mut grad = vec![0.0; mlp_mnist::N_PARAMS];
        b.bench_local(|| {
            hand::mlp_mnist_gradient(black_box(&inputs), black_box(&params), black_box(&mut grad))
        });
    }

    #[divan::bench]
    fn mlp_mnist_batch_loss(b: divan::Bencher) {
        let inputs = values(mlp_mnist_batch::N_INPUTS, 1);
        let params = values(mlp_mnist_batch::N_PARAMS, 2);
        b.bench(|| hand::mlp_mnist_batch_loss(black_box(&inputs), black_box(&params)));
    }

    #[divan::bench]
    fn mlp_mnist_batch_gradient(b: divan::Bencher) {
        let inputs = values(mlp_mnist_batch::N_INPUTS, 1);
        let params = values(mlp_mnist_batch::N_PARAMS, 2);
        let mut grad = vec![0.0; mlp_mnist_batch::N_PARAMS];
        b.bench_local(|| {
            hand::mlp_mnist_batch_gradient(
                black_box(&inputs),
                black_box(&params),
                black_box(&mut grad),
            )
        });
    }
}

/// `matrixmultiply::dgemm` on the batched net's contraction shapes; the
/// throughput divan prints is in FLOP/s (items: floating-point operations).
mod reference_gemm {
    use super::*;
    use divan::counter::ItemsCount;
    use hand::{D, H, K, N};

    fn flops(shape: &str) -> ItemsCount {
        let (_, n) = gemm::FLOPS.iter().find(|(s, _)| *s == shape).unwrap();
        ItemsCount::new(*n)
    }

    #[divan::bench]
    fn forward(b: divan::Bencher) {
        let b = b.counter(flops("forward"));
        let (x, w1, mut c) = (values(N * D, 1), values(H * D, 2), vec![0.0; N * H]);
        b.bench_local(|| gemm::forward(black_box(&x), black_box(&w1), black_box(&mut c)));
    }

    #[divan::bench]
    fn weight_gradient(b: divan::Bencher) {
        let b = b.counter(flops("weight_gradient"));
        let (d, x, mut c) = (values(N * H, 1), values(N * D, 2), vec![0.0; H * D]);
        b.bench_local(|| gemm::weight_gradient(black_box(&d), black_box(&x), black_box(&mut c)));
    }

    #[divan::bench]
    fn backprop(b: divan::Bencher) {
        let b = b.counter(flops("backprop"));
        let (d, w2, mut c) = (values(N * K, 1), values(K * H, 2), vec![0.0; N * H]);
        b.bench_local(|| gemm::backprop(black_box(&d), black_box(&w2), black_box(&mut c)));
    }
}
