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

/// Calls the macro `$m` with the name of every example without a run-time
/// dim: the one list of them for the generated modules here, `EXAMPLES`,
/// and the benches of generated code.
#[macro_export]
macro_rules! for_each_example {
    ($m:ident) => {
        $m!(
            batch_mlp,
            bishop,
            conv1d,
            fanout,
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

/// Calls the macro `$m` with every example that has a run-time dim, each
/// as `name { DIM: size, ... } => hand_loss, hand_gradient;`: the sizes its
/// benchmarks and callgrind counts run at (the fields of its `Dims`), and
/// its hand-written reference's loss and gradient, which take the sizes
/// first (one `usize` per run-time dim, in declaration order), then the
/// flat slices of the generated functions. Adding an example with a
/// run-time dim is one line here (and one in benches/callgrind/run.sh).
#[macro_export]
macro_rules! for_each_run_time_example {
    ($m:ident) => {
        $m!(
            causal_attention { T: 32 } => $crate::hand_runtime::causal_attention_loss, $crate::hand_runtime::causal_attention_gradient;
            huber_regression { N: 64 } => $crate::hand_runtime::huber_regression_loss, $crate::hand_runtime::huber_regression_gradient;
            lenet { N: 64 } => $crate::hand_lenet::lenet_loss, $crate::hand_lenet::lenet_gradient;
        );
    };
}

for_each_example!(generated);

/// The generated modules of the examples with run-time dims.
macro_rules! generated_run_time {
    ($($name:ident { $($dim:ident: $size:literal),* } => $loss:path, $gradient:path;)*) => {
        generated!($($name),*);
    };
}

for_each_run_time_example!(generated_run_time);

/// `FIXED_SIZE_EXAMPLES`, from the names of `for_each_example!`.
macro_rules! names {
    ($($name:ident),*) => {
        /// The examples without a run-time dim.
        pub const FIXED_SIZE_EXAMPLES: &[&str] = &[$(stringify!($name)),*];
    };
}

for_each_example!(names);

/// `RUN_TIME_EXAMPLES`, from the names of `for_each_run_time_example!`.
macro_rules! run_time_names {
    ($($name:ident { $($dim:ident: $size:literal),* } => $loss:path, $gradient:path;)*) => {
        /// The examples with a run-time dim.
        pub const RUN_TIME_EXAMPLES: &[&str] = &[$(stringify!($name)),*];
    };
}

for_each_run_time_example!(run_time_names);

/// `a` then `b`, as an array of `N` (their total length).
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut k = 0;
    while k < a.len() {
        out[k] = a[k];
        k += 1;
    }
    while k < N {
        out[k] = b[k - a.len()];
        k += 1;
    }
    out
}

/// Every example (every file of examples/, which build.rs compiles): the
/// fixed-size ones, then those with a run-time dim.
pub const EXAMPLES: &[&str] = &concat::<{ FIXED_SIZE_EXAMPLES.len() + RUN_TIME_EXAMPLES.len() }>(
    FIXED_SIZE_EXAMPLES,
    RUN_TIME_EXAMPLES,
);

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
pub mod hand_runtime;
pub mod hand_small;
