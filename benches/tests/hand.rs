//! The benchmarks' references compute what the generated code computes: the
//! hand-written loss and gradient agree with the generated modules (which
//! tests/codegen.rs checks against the interpreter) to 1e-10 relative, and
//! the GEMM shapes with a naive triple loop.

use netgrad_benches::hand::{self, D, H, K, N};
use netgrad_benches::{mlp_mnist, mlp_mnist_batch, values};

#[path = "../src/gemm.rs"]
mod gemm;

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / w.abs().max(1.0);
        assert!(err <= 1e-10, "{what}[{k}]: {g} against {w}");
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
fn the_build_script_compiles_every_example() {
    let build = include_str!("../build.rs");
    for name in netgrad_benches::EXAMPLES {
        assert!(
            build.contains(&format!("\"{name}\"")),
            "{name} is not built"
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let files = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("net".as_ref()))
        .count();
    assert_eq!(files, netgrad_benches::EXAMPLES.len());
}
