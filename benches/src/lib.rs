//! The generated modules the benchmarks call, and deterministic values for them.

#[allow(missing_docs)]
pub mod bishop {
    include!(concat!(env!("OUT_DIR"), "/bishop.rs"));
}

#[allow(missing_docs)]
pub mod mlp_mnist {
    include!(concat!(env!("OUT_DIR"), "/mlp_mnist.rs"));
}

/// `n` values uniform in [-1, 1), the same on every run.
pub fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = netgrad::gradcheck::Rng::new(seed);
    (0..n).map(|_| rng.signed_unit()).collect()
}
