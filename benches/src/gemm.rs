//! The batched net's three GEMM shapes with `matrixmultiply::dgemm`, the
//! reference for the generated contractions. Row-major operands; `c` is
//! overwritten. `matrixmultiply` is a dev-dependency, so this file is not part
//! of the library: the bench and the test include it with `#[path]`.

use netgrad_benches::hand::{D, H, K, N};

/// `C[m, n] = Σ_k A[m, k] B[k, n]`, each operand given by its row and
/// column strides.
#[allow(clippy::too_many_arguments)]
fn dgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    (rsb, csb): (usize, usize),
    c: &mut [f64],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the asserts bound every index the strides reach: each
    // operand is a dense row-major or column-major m×k, k×n, m×n matrix.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The forward shape: `a1[n, j] = Σ_i x[n, i] w1[j, i]` (x · w1ᵀ, 64×784·784×128).
pub fn forward(x: &[f64], w1: &[f64], a1: &mut [f64]) {
    dgemm(N, D, H, x, (D, 1), w1, (1, D), a1);
}

/// The weight gradient: `g[j, i] = Σ_n δ[n, j] x[n, i]` (δᵀ · x, 128×64·64×784).
pub fn weight_gradient(delta: &[f64], x: &[f64], g: &mut [f64]) {
    dgemm(H, N, D, delta, (1, H), x, (D, 1), g);
}

/// The back-propagated error: `d_z1[n, j] = Σ_k δ2[n, k] w2[k, j]` (δ2 · w2, 64×10·10×128).
pub fn backprop(delta2: &[f64], w2: &[f64], d_z1: &mut [f64]) {
    dgemm(N, K, H, delta2, (K, 1), w2, (H, 1), d_z1);
}

/// Floating-point operations of each shape (a multiply and an add per term).
pub const FLOPS: [(&str, usize); 3] = [
    ("forward", 2 * N * D * H),
    ("weight_gradient", 2 * H * N * D),
    ("backprop", 2 * N * K * H),
];
