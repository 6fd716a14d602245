//! The benchmarks' references compute what the generated code computes: the
//! hand-written loss and gradient agree with the generated modules (which
//! tests/codegen.rs checks against the interpreter) to 1e-10 relative, and
//! the GEMM shapes with a naive triple loop.

use netgrad_benches::hand::{self, D, H, K, N};
use netgrad_benches::{hand_small, mlp_mnist, mlp_mnist_batch, values};

#[path = "../src/gemm.rs"]
mod gemm;

/// The first index where `got` and `want` differ by more than 1e-10
/// relative (absolute below 1), if any.
fn mismatch(got: &[f64], want: &[f64]) -> Option<usize> {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want).position(|(g, w)| {
        let err = (g - w).abs() / w.abs().max(1.0);
        err.is_nan() || err > 1e-10
    })
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    if let Some(k) = mismatch(got, want) {
        panic!("{what}[{k}]: {} against {}", got[k], want[k]);
    }
}

#[test]
fn the_hand_written_mlp_mnist_agrees_with_the_generated_code() {
    let (inputs, params) = (
        values(mlp_mnist::N_INPUTS, 1),
        values(mlp_mnist::N_PARAMS, 2),
    );
    let want = mlp_mnist::loss_flat(&inputs, &params);
    assert_close("loss", &[hand::mlp_mnist_loss(&inputs, &params)], &[want]);
    let (mut got, mut want) = (
        vec![0.0; mlp_mnist::N_PARAMS],
        vec![0.0; mlp_mnist::N_PARAMS],
    );
    // Garbage in the caller's buffer must not matter.
    got.fill(7.0);
    let loss = hand::mlp_mnist_gradient(&inputs, &params, &mut got);
    let want_loss = mlp_mnist::gradient_flat(&inputs, &params, &mut want);
    assert_close("gradient's loss", &[loss], &[want_loss]);
    assert_close("gradient", &got, &want);
}

#[test]
fn the_hand_written_batch_agrees_with_the_generated_code() {
    let inputs = values(mlp_mnist_batch::N_INPUTS, 1);
    let params = values(mlp_mnist_batch::N_PARAMS, 2);
    let want = mlp_mnist_batch::loss_flat(&inputs, &params);
    assert_close(
        "loss",
        &[hand::mlp_mnist_batch_loss(&inputs, &params)],
        &[want],
    );
    let n = mlp_mnist_batch::N_PARAMS;
    let (mut got, mut want) = (vec![7.0; n], vec![0.0; n]);
    let loss = hand::mlp_mnist_batch_gradient(&inputs, &params, &mut got);
    let want_loss = mlp_mnist_batch::gradient_flat(&inputs, &params, &mut want);
    assert_close("gradient's loss", &[loss], &[want_loss]);
    assert_close("gradient", &got, &want);
}

/// `C[m, n] = Σ_k a(m, k) b(k, n)`, naively.
fn naive(
    (m, k, n): (usize, usize, usize),
    a: impl Fn(usize, usize) -> f64,
    b: impl Fn(usize, usize) -> f64,
) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for r in 0..m {
        for s in 0..n {
            c[r * n + s] = (0..k).map(|l| a(r, l) * b(l, s)).sum();
        }
    }
    c
}

#[test]
fn the_reference_gemm_computes_the_three_contractions() {
    let (x, w1) = (values(N * D, 1), values(H * D, 2));
    let mut c = vec![0.0; N * H];
    gemm::forward(&x, &w1, &mut c);
    let want = naive((N, D, H), |n, i| x[n * D + i], |i, j| w1[j * D + i]);
    assert_close("forward", &c, &want);

    let delta = values(N * H, 3);
    let mut c = vec![0.0; H * D];
    gemm::weight_gradient(&delta, &x, &mut c);
    let want = naive((H, N, D), |j, n| delta[n * H + j], |n, i| x[n * D + i]);
    assert_close("weight gradient", &c, &want);

    let (delta2, w2) = (values(N * K, 4), values(K * H, 5));
    let mut c = vec![0.0; N * H];
    gemm::backprop(&delta2, &w2, &mut c);
    let want = naive((N, K, H), |n, k| delta2[n * K + k], |k, j| w2[k * H + j]);
    assert_close("backprop", &c, &want);
    assert_eq!(gemm::FLOPS.len(), 3);
}

#[test]
fn every_example_has_a_module_here() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension() == Some("net".as_ref()))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    for file in &files {
        assert!(
            netgrad_benches::EXAMPLES.contains(&file.as_str()),
            "examples/{file}.net has no module in netgrad_benches: add it to \
             for_each_example! (fixed sizes) or for_each_run_time_example! (with \
             its sizes and hand-written reference) in benches/src/lib.rs"
        );
    }
    assert_eq!(files.len(), netgrad_benches::EXAMPLES.len());
}

/// Every example has a hand-written reference that a test here checks:
/// mlp_mnist's two by tests of their own, the small ones through `small!`
/// (`SMALL`), and every example with a run-time dim through `run_time!`,
/// which `for_each_run_time_example!` gives its reference.
#[test]
fn every_example_has_a_checked_hand_written_reference() {
    for name in netgrad_benches::EXAMPLES {
        assert!(
            ["mlp_mnist", "mlp_mnist_batch"].contains(name)
                || SMALL.contains(name)
                || netgrad_benches::RUN_TIME_EXAMPLES.contains(name),
            "{name} has no hand-written reference checked in benches/tests/hand.rs"
        );
    }
}

/// `got` with any one element's sign flipped must not pass against `want`:
/// the comparison can fail. An element too small for a flip to leave the
/// tolerance (a zero: the losing elements of a max pooling window, a
/// gradient that a mask cuts off; or a softmax's saturated gradient of
/// 1e-100) is skipped; `covered` marks those checked, and every element
/// must be checked at some point.
fn sign_flips_are_caught(what: &str, got: &[f64], want: &[f64], covered: &mut [bool]) {
    for k in (0..got.len()).filter(|&k| 2.0 * got[k].abs() > 1e-9 * want[k].abs().max(1.0)) {
        let mut wrong = got.to_vec();
        wrong[k] = -wrong[k];
        assert_eq!(
            mismatch(&wrong, want),
            Some(k),
            "{what}: a wrong sign of gradient[{k}] would pass"
        );
        covered[k] = true;
    }
}

/// Every element of the gradient had its sign flip caught at some point.
fn all_covered(what: &str, covered: &[bool]) {
    let missed: Vec<usize> = (0..covered.len()).filter(|&k| !covered[k]).collect();
    assert!(
        missed.is_empty(),
        "{what}: no point checks the sign of gradient{missed:?}"
    );
}

/// The small examples' references against their generated modules at several
/// points (params and inputs uniform in [-1, 1) and in [-3, 3)), with garbage
/// in the gradient buffer; and, so that the comparison can fail, at each of
/// those points every gradient value with its sign flipped must be caught.
macro_rules! small {
    ($($test:ident: $net:ident, $loss:ident, $gradient:ident;)*) => {
        /// The examples whose references `small!` checks.
        const SMALL: &[&str] = &[$(stringify!($net)),*];
        $(
            #[test]
            fn $test() {
                use netgrad_benches::$net as net;
                let mut covered = vec![false; net::N_PARAMS];
                for point in 0..6u64 {
                    let scale = if point < 4 { 1.0 } else { 3.0 };
                    let scaled = |n, seed| -> Vec<f64> {
                        values(n, seed).into_iter().map(|v| v * scale).collect()
                    };
                    let inputs = scaled(net::N_INPUTS, 10 + point);
                    let params = scaled(net::N_PARAMS, 20 + point);
                    let what = format!("{} at point {point}", stringify!($net));
                    let want = net::loss_flat(&inputs, &params);
                    let got = hand_small::$loss(&inputs, &params);
                    assert_close(&format!("{what}: loss"), &[got], &[want]);

                    let (mut got, mut want) = (vec![7.0; net::N_PARAMS], vec![0.0; net::N_PARAMS]);
                    let loss = hand_small::$gradient(&inputs, &params, &mut got);
                    let want_loss = net::gradient_flat(&inputs, &params, &mut want);
                    assert_close(&format!("{what}: gradient's loss"), &[loss], &[want_loss]);
                    assert_close(&format!("{what}: gradient"), &got, &want);
                    sign_flips_are_caught(&what, &got, &want, &mut covered);
                }
                all_covered(stringify!($net), &covered);
            }
        )*
    };
}

small! {
    the_hand_written_bishop_agrees_with_the_generated_code:
        bishop, bishop_loss, bishop_gradient;
    the_hand_written_xor_agrees_with_the_generated_code:
        xor, xor_loss, xor_gradient;
    the_hand_written_fanout_agrees_with_the_generated_code:
        fanout, fanout_loss, fanout_gradient;
    the_hand_written_softmax_regression_agrees_with_the_generated_code:
        softmax_regression, softmax_regression_loss, softmax_regression_gradient;
    the_hand_written_tied_autoencoder_agrees_with_the_generated_code:
        tied_autoencoder, tied_autoencoder_loss, tied_autoencoder_gradient;
    the_hand_written_weight_decay_agrees_with_the_generated_code:
        weight_decay, weight_decay_loss, weight_decay_gradient;
    the_hand_written_batch_mlp_agrees_with_the_generated_code:
        batch_mlp, batch_mlp_loss, batch_mlp_gradient;
    the_hand_written_maxpool_agrees_with_the_generated_code:
        maxpool, maxpool_loss, maxpool_gradient;
    the_hand_written_conv1d_agrees_with_the_generated_code:
        conv1d, conv1d_loss, conv1d_gradient;
}

/// The references of the examples with run-time dims against their
/// generated modules, at the benchmarks' sizes and at 1, 2 and 7 (every
/// run-time dim at once), at the points of `small!`, with garbage in the
/// gradient buffer and every sign flip caught. The generated gradient is
/// `gradient_flat_in` in one reused workspace per size.
macro_rules! run_time {
    ($($name:ident { $($dim:ident: $size:literal),* } => $loss:path, $gradient:path;)*) => {
        mod run_time_references {
            use super::*;
            $(
                #[test]
                fn $name() {
                    use netgrad_benches::$name as net;
                    let bench: &[usize] = &[$($size),*];
                    let mut covered = vec![false; net::N_PARAMS];
                    let mut all = vec![bench.to_vec()];
                    all.extend([1, 2, 7].map(|s| vec![s; bench.len()]));
                    for sizes in &all {
                        let mut it = sizes.iter().copied();
                        let dims = net::Dims { $($dim: it.next().unwrap()),* };
                        let mut ws = net::Workspace::new(&dims);
                        for point in 0..6u64 {
                            let scale = if point < 4 { 1.0 } else { 3.0 };
                            let scaled = |n, seed| -> Vec<f64> {
                                values(n, seed).into_iter().map(|v| v * scale).collect()
                            };
                            let inputs = scaled(dims.n_inputs(), 10 + point);
                            let params = scaled(net::N_PARAMS, 20 + point);
                            let what = format!("{} at {sizes:?}, point {point}", stringify!($name));
                            let want = net::loss_flat(&dims, &inputs, &params);
                            let mut it = sizes.iter().copied();
                            let got = $loss($({ let _ = stringify!($dim); it.next().unwrap() },)* &inputs, &params);
                            assert_close(&format!("{what}: loss"), &[got], &[want]);

                            let n = net::N_PARAMS;
                            let (mut got, mut want) = (vec![7.0; n], vec![0.0; n]);
                            let mut it = sizes.iter().copied();
                            let loss = $gradient($({ let _ = stringify!($dim); it.next().unwrap() },)* &inputs, &params, &mut got);
                            let want_loss = net::gradient_flat_in(&mut ws, &dims, &inputs, &params, &mut want);
                            assert_close(&format!("{what}: gradient's loss"), &[loss], &[want_loss]);
                            assert_close(&format!("{what}: gradient"), &got, &want);
                            sign_flips_are_caught(&what, &got, &want, &mut covered);
                        }
                    }
                    all_covered(stringify!($name), &covered);
                }
            )*
        }
    };
}

netgrad_benches::for_each_run_time_example!(run_time);
