//! The generated modules the benchmarks call, and deterministic values for them.

/// The generated module of each example, compiled by `build.rs`.
macro_rules! generated {
    ($($name:ident),*) => {
        $(
            #[allow(missing_docs)]
            pub mod $name {
                include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
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

/// `n` values uniform in [-1, 1), the same on every run.
pub fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = netgrad::gradcheck::Rng::new(seed);
    (0..n).map(|_| rng.signed_unit()).collect()
}

/// The examples the compiler benchmarks run over (every file of examples/).
pub const EXAMPLES: &[&str] = &[
    "batch_mlp",
    "bishop",
    "fanout",
    "mlp_mnist",
    "mlp_mnist_batch",
    "softmax_regression",
    "tied_autoencoder",
    "weight_decay",
    "xor",
];

/// The text of `examples/{name}.net`.
pub fn example(name: &str) -> String {
    let path: std::path::PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "examples",
        &format!("{name}.net"),
    ]
    .iter()
    .collect();
    std::fs::read_to_string(path).expect("an example")
}

/// A program's gradient with respect to every param, not simplified.
pub fn raw_gradient(text: &str) -> netgrad::autodiff::Gradient {
    let dag = netgrad::front_end(text).expect("a correct program");
    netgrad::derive(dag, &[], false).expect("every param").0
}

pub mod hand;
pub mod hand_small;
