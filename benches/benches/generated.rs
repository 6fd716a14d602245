//! Per-call time of the generated `loss_flat` and `gradient_flat` of every
//! example, beside a hand-written reference for each (`hand_written::NAME_loss`
//! pairs with `NAME::loss`, `hand_written::NAME_gradient` with
//! `NAME::gradient`, at the same values; for an example with a run-time dim,
//! `NAME::hand_loss` and `NAME::hand_gradient`, at its stated sizes) and
//! `matrixmultiply`'s GEMM on the batched net's three contraction shapes, all
//! in one run so that ratios are meaningful.

use divan::black_box;
use netgrad_benches::{hand, values};

#[path = "../src/gemm.rs"]
mod gemm;

fn main() {
    divan::main();
}

/// Calls `f` a few times before a bench starts. The first call of a
/// function page-faults on its code and on the `grad` buffer's fresh page (a
/// few µs); when that lands in divan's calibration, divan settles on one call
/// per sample, and a bench of a few tens of ns then mostly times the timer.
fn warm_up<T>(mut f: impl FnMut() -> T) {
    for _ in 0..3 {
        black_box(f());
    }
}

/// A `loss` and a `gradient` bench for each generated module.
macro_rules! generated {
    ($($name:ident),*) => {
        $(
            mod $name {
                use super::warm_up;
                use divan::black_box;
                use netgrad_benches::{$name as net, values};

                #[divan::bench]
                fn loss(b: divan::Bencher) {
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    warm_up(|| net::loss_flat(&inputs, &params));
                    b.bench(|| net::loss_flat(black_box(&inputs), black_box(&params)));
                }

                #[divan::bench]
                fn gradient(b: divan::Bencher) {
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    let mut grad = vec![0.0; net::N_PARAMS];
                    warm_up(|| net::gradient_flat(&inputs, &params, &mut grad));
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

netgrad_benches::for_each_example!(generated);

/// For each example with a run-time dim, at the sizes
/// `for_each_run_time_example!` gives it: the generated `loss_flat` (which
/// makes a workspace per call: the module has no loss function that takes
/// one), `gradient_flat_in` in one reused workspace (`gradient`),
/// `gradient_flat` (a workspace per call, `gradient_alloc`), and the
/// hand-written reference's loss and gradient (`hand_loss`,
/// `hand_gradient`, each with at most one allocation per call).
macro_rules! run_time {
    ($($name:ident { $($dim:ident: $size:literal),* } => $loss:path, $gradient:path;)*) => {
        $(
            mod $name {
                use super::warm_up;
                use divan::black_box;
                use netgrad_benches::{$name as net, values};

                /// The sizes of the benchmark.
                const DIMS: net::Dims = net::Dims { $($dim: $size),* };

                fn inputs_and_params() -> (Vec<f64>, Vec<f64>) {
                    (values(DIMS.n_inputs(), 1), values(net::N_PARAMS, 2))
                }

                #[divan::bench]
                fn loss(b: divan::Bencher) {
                    let (inputs, params) = inputs_and_params();
                    warm_up(|| net::loss_flat(&DIMS, &inputs, &params));
                    b.bench(|| net::loss_flat(black_box(&DIMS), black_box(&inputs), black_box(&params)));
                }

                #[divan::bench]
                fn gradient(b: divan::Bencher) {
                    let (inputs, params) = inputs_and_params();
                    let mut grad = vec![0.0; net::N_PARAMS];
                    let mut ws = net::Workspace::new(&DIMS);
                    warm_up(|| net::gradient_flat_in(&mut ws, &DIMS, &inputs, &params, &mut grad));
                    b.bench_local(|| {
                        net::gradient_flat_in(
                            black_box(&mut ws),
                            black_box(&DIMS),
                            black_box(&inputs),
                            black_box(&params),
                            black_box(&mut grad),
                        )
                    });
                }

                #[divan::bench]
                fn gradient_alloc(b: divan::Bencher) {
                    let (inputs, params) = inputs_and_params();
                    let mut grad = vec![0.0; net::N_PARAMS];
                    warm_up(|| net::gradient_flat(&DIMS, &inputs, &params, &mut grad));
                    b.bench_local(|| {
                        net::gradient_flat(
                            black_box(&DIMS),
                            black_box(&inputs),
                            black_box(&params),
                            black_box(&mut grad),
                        )
                    });
                }

                #[divan::bench]
                fn hand_loss(b: divan::Bencher) {
                    let (inputs, params) = inputs_and_params();
                    warm_up(|| $loss($($size,)* &inputs, &params));
                    b.bench(|| $loss($(black_box($size),)* black_box(&inputs), black_box(&params)));
                }

                #[divan::bench]
                fn hand_gradient(b: divan::Bencher) {
                    let (inputs, params) = inputs_and_params();
                    let mut grad = vec![0.0; net::N_PARAMS];
                    warm_up(|| $gradient($($size,)* &inputs, &params, &mut grad));
                    b.bench_local(|| {
                        $gradient(
                            $(black_box($size),)*
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

netgrad_benches::for_each_run_time_example!(run_time);

/// The hand-written references (`netgrad_benches::hand` and
/// `netgrad_benches::hand_small`), named after the generated benches they pair with.
mod hand_written {
    use super::*;
    use netgrad_benches::{hand_small, mlp_mnist, mlp_mnist_batch};

    /// `NAME_loss` and `NAME_gradient` benches of `hand_small`'s references,
    /// at the values the generated `NAME::loss` and `NAME::gradient` get.
    macro_rules! small {
        ($($net:ident: $loss:ident, $gradient:ident;)*) => {
            $(
                #[divan::bench]
                fn $loss(b: divan::Bencher) {
                    use netgrad_benches::$net as net;
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    warm_up(|| hand_small::$loss(&inputs, &params));
                    b.bench(|| hand_small::$loss(black_box(&inputs), black_box(&params)));
                }

                #[divan::bench]
                fn $gradient(b: divan::Bencher) {
                    use netgrad_benches::$net as net;
                    let (inputs, params) = (values(net::N_INPUTS, 1), values(net::N_PARAMS, 2));
                    let mut grad = vec![0.0; net::N_PARAMS];
                    warm_up(|| hand_small::$gradient(&inputs, &params, &mut grad));
                    b.bench_local(|| {
                        hand_small::$gradient(
                            black_box(&inputs),
                            black_box(&params),
                            black_box(&mut grad),
                        )
                    });
                }
            )*
        };
    }

    small! {
        batch_mlp: batch_mlp_loss, batch_mlp_gradient;
        bishop: bishop_loss, bishop_gradient;
        conv1d: conv1d_loss, conv1d_gradient;
        fanout: fanout_loss, fanout_gradient;
        maxpool: maxpool_loss, maxpool_gradient;
        softmax_regression: softmax_regression_loss, softmax_regression_gradient;
        tied_autoencoder: tied_autoencoder_loss, tied_autoencoder_gradient;
        weight_decay: weight_decay_loss, weight_decay_gradient;
        xor: xor_loss, xor_gradient;
    }

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
