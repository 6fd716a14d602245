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

/// Calls the macro `$m` with every example's name: the one list of them
/// for the generated modules here, `EXAMPLES`, and the benches of generated
/// code (build.rs keeps its own copy; a test checks the two agree).
#[macro_export]
macro_rules! for_each_example {
    ($m:ident) => {
        $m!(
            batch_mlp,
            bishop,
            conv1d,
            fanout,
            huber_regression,
            maxpool,
            mlp_mnist,
            mlp_mnist_batch,
            softmax_regression,
            tied_autoencoder,
            weight_decay,
            xor
        );
    };
}

for_each_example!(generated);

/// `EXAMPLES`, from the names of `for_each_example!`.
macro_rules! names {
    ($($name:ident),*) => {
        /// The examples the compiler benchmarks run over (every file of examples/).
        pub const EXAMPLES: &[&str] = &[$(stringify!($name)),*];
    };
}

for_each_example!(names);

/// `n` values uniform in [-1, 1), the same on every run.
pub fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = netgrad::gradcheck::Rng::new(seed);
    (0..n).map(|_| rng.signed_unit()).collect()
}

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
pub mod hand_lenet;
pub mod hand_small;
