//! The generated Rust of every example, in f64 and f32, for std and for
//! `#![no_std]`: rustfmt finds nothing to change, it compiles under
//! `#![deny(warnings)]` and clippy's default lints, and `loss_flat`,
//! `gradient_flat` and `forward_flat` agree with the interpreter.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use netgrad::codegen::{generate, generate_sized, Float, MathFunctions, Options, TargetFeatures};

/// The harness: reads f64 values (inputs then params) from the file named by
/// its argument, prints the loss twice, the gradient, the loss again and the
/// outputs, one number a line. `SCRATCH` is the no-std code's last argument.
const HARNESS: &str = r#"#![deny(warnings)]
mod net {
    include!("net.rs");
}

#[allow(clippy::unnecessary_cast)]
fn main() {
    let path = std::env::args().nth(1).expect("a values file");
    let bytes = std::fs::read(path).expect("readable values");
    let values: Vec<REAL> = bytes
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as REAL)
        .collect();
    let (inputs, params) = values.split_at(net::N_INPUTS);
    let mut grad = vec![0.0; net::N_PARAMS];
    let mut outputs = vec![0.0; net::N_OUTPUTS];
    DECLARE_SCRATCH
    let loss = net::loss_flat(inputs, params SCRATCH);
    let again = net::gradient_flat(inputs, params, &mut grad SCRATCH);
    let forward = net::forward_flat(inputs, params, &mut outputs SCRATCH);
    println!("{loss:e}");
    println!("{again:e}");
    for g in grad {
        println!("{g:e}");
    }
    println!("{forward:e}");
    for o in outputs {
        println!("{o:e}");
    }
}
"#;

/// The generated code for `#![no_std]`, in a `#![no_std]` library: it must
/// build with `core` and `libm` alone, without warnings.
const NO_STD_LIB: &str = r#"#![no_std]
#![deny(warnings)]
mod net {
    include!("net.rs");
}
"#;

/// A stand-in for the `libm` crate, with its signatures: the test needs no
/// download, and the numbers are std's.
const LIBM_STUB: &str = r#"
pub fn exp(x: f64) -> f64 { x.exp() }
pub fn log(x: f64) -> f64 { x.ln() }
pub fn log1p(x: f64) -> f64 { x.ln_1p() }
pub fn tanh(x: f64) -> f64 { x.tanh() }
pub fn sqrt(x: f64) -> f64 { x.sqrt() }
pub fn sin(x: f64) -> f64 { x.sin() }
pub fn cos(x: f64) -> f64 { x.cos() }
pub fn fabs(x: f64) -> f64 { x.abs() }
pub fn pow(x: f64, y: f64) -> f64 { x.powf(y) }
pub fn expf(x: f32) -> f32 { x.exp() }
pub fn logf(x: f32) -> f32 { x.ln() }
pub fn log1pf(x: f32) -> f32 { x.ln_1p() }
pub fn tanhf(x: f32) -> f32 { x.tanh() }
pub fn sqrtf(x: f32) -> f32 { x.sqrt() }
pub fn sinf(x: f32) -> f32 { x.sin() }
pub fn cosf(x: f32) -> f32 { x.cos() }
pub fn fabsf(x: f32) -> f32 { x.abs() }
pub fn powf(x: f32, y: f32) -> f32 { x.powf(y) }
"#;

/// `--extern libm=...`: the stub, compiled once per test process.
fn libm_extern() -> String {
    static RLIB: OnceLock<PathBuf> = OnceLock::new();
    let rlib = RLIB.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("netgrad-codegen-{}-libm", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libm.rs"), LIBM_STUB).unwrap();
        run(
            Command::new("rustc")
                .args([
                    "--edition",
                    "2021",
                    "--crate-type",
                    "rlib",
                    "--crate-name",
                    "libm",
                ])
                .args(["-O", "libm.rs", "-o", "liblibm.rlib"])
                .current_dir(&dir),
            "rustc on the libm stub",
        );
        dir.join("liblibm.rlib")
    });
    format!("libm={}", rlib.display())
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks one example in one float type; returns the worst relative error.
fn check_example(path: &Path, float: Float, no_std: bool, dir: &Path) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    check_source(&common::relative(path), &text, float, no_std, dir)
}

/// How a test generates, builds and runs a module.
#[derive(Clone, Copy)]
struct Setup<'a> {
    float: Float,
    no_std: bool,
    features: TargetFeatures,
    math: MathFunctions,
    /// Extra flags for rustc (and clippy), e.g. target features.
    rustflags: &'a [&'a str],
    /// The harness's main-thread stack (`ulimit -s`, KiB), when limited.
    stack_kib: Option<u32>,
}

impl Setup<'_> {
    fn new(float: Float, no_std: bool) -> Setup<'static> {
        Setup {
            float,
            no_std,
            features: TargetFeatures::default(),
            math: MathFunctions::default(),
            rustflags: &[],
            stack_kib: None,
        }
    }
}

/// Checks the code generated for a program; returns the worst relative
/// error of the loss, gradient and outputs.
fn check_source(name: &str, text: &str, float: Float, no_std: bool, dir: &Path) -> f64 {
    check_with(name, text, Setup::new(float, no_std), dir)
}

/// [`check_source`] with every setting of [`Setup`].
fn check_with(name: &str, text: &str, setup: Setup, dir: &Path) -> f64 {
    let Setup {
        float,
        no_std,
        features,
        math,
        rustflags,
        stack_kib,
    } = setup;
    let path = Path::new(name);
    let g = common::simplified(text);
    let options = Options {
        float,
        source: name.to_string(),
        share: true,
        no_std,
        features,
        math,
    };
    let code = generate(&g, &options).unwrap();
    let real = if float == Float::F64 { "f64" } else { "f32" };
    let (declare, scratch) = if no_std {
        (
            "let mut scratch = vec![0.0; net::SCRATCH_LEN];",
            ", &mut scratch",
        )
    } else {
        ("", "")
    };
    let harness = HARNESS
        .replace("REAL", real)
        .replace("    DECLARE_SCRATCH\n", &format!("    {declare}\n"))
        .replace(" SCRATCH)", &format!("{scratch})"));
    let harness = harness.replace("    \n", "");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("net.rs"), &code).unwrap();
    std::fs::write(dir.join("main.rs"), harness).unwrap();
    std::fs::write(dir.join("lib.rs"), NO_STD_LIB).unwrap();
    let libm = libm_extern();
    let externs: &[&str] = if no_std { &["--extern", &libm] } else { &[] };
    let mode = if no_std { "no-std" } else { "std" };

    run(
        Command::new("rustfmt")
            .args([
                "--edition",
                "2021",
                "--check",
                "--config",
                "format_generated_files=true",
                "net.rs",
            ])
            .current_dir(dir),
        &format!("rustfmt --check on {} ({real}, {mode})", path.display()),
    );
    // Clippy on the harness; for no-std code, on a `#![no_std]` library.
    let (crate_type, root) = if no_std {
        ("lib", "lib.rs")
    } else {
        ("bin", "main.rs")
    };
    run(
        Command::new("clippy-driver")
            .args([
                "--edition",
                "2021",
                "-D",
                "warnings",
                "--crate-type",
                crate_type,
            ])
            .args(["--emit", "metadata", "-o", "clippy.rmeta", root])
            .args(externs)
            .args(rustflags)
            .current_dir(dir),
        &format!("clippy on {} ({real}, {mode})", path.display()),
    );
    run(
        Command::new("rustc")
            .args(["--edition", "2021", "-O", "-D", "warnings"])
            .args(["main.rs", "-o", "harness"])
            .args(externs)
            .args(rustflags)
            .current_dir(dir),
        &format!("rustc on {} ({real}, {mode})", path.display()),
    );

    // Values: the interpreter's random ones, inputs then params.
    let p = &g.dag.program;
    let given = netgrad::gradcheck::random_values(p, 5);
    let order = |kind| p.ids().filter(move |id| p.value(*id).kind == kind);
    let mut bytes = Vec::new();
    for id in order(netgrad::ir::ValueKind::Input).chain(order(netgrad::ir::ValueKind::Param)) {
        for x in given[id.index()].as_ref().unwrap() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(dir.join("values.bin"), bytes).unwrap();
    let mut harness = match stack_kib {
        Some(kib) => {
            let mut sh = Command::new("sh");
            sh.args([
                "-c",
                &format!("ulimit -s {kib} && exec ./harness values.bin"),
            ]);
            sh
        }
        None => {
            let mut direct = Command::new(dir.join("harness"));
            direct.arg("values.bin");
            direct
        }
    };
    let out = run(harness.current_dir(dir), "the harness");
    let numbers: Vec<f64> = out.lines().map(|l| l.parse().unwrap()).collect();

    let data = netgrad::eval::run(p, &given);
    let loss = data[p.loss.index()][0];
    let mut want = vec![loss, loss];
    for (_, adj) in &g.wrt {
        want.extend(&data[adj.index()]);
    }
    want.push(loss);
    for o in &p.outputs {
        want.extend(&data[o.index()]);
    }
    assert_eq!(numbers.len(), want.len(), "{}", path.display());
    let mut worst: f64 = 0.0;
    for (k, (got, want)) in numbers.iter().zip(&want).enumerate() {
        let err = (got - want).abs() / want.abs().max(1.0);
        assert!(err.is_finite(), "{}: element {k} is {got}", path.display());
        worst = worst.max(err);
    }
    worst
}

fn dir_for(path: &Path, float: Float) -> PathBuf {
    let stem = path.file_stem().unwrap().to_string_lossy();
    std::env::temp_dir().join(format!(
        "netgrad-codegen-{}-{stem}-{float:?}",
        std::process::id()
    ))
}

/// The examples without run-time dims. Those with one compile to a module
/// that takes `Dims` (a harness of its own: tests/runtime_codegen.rs runs
/// every such example at sizes 1, 2 and 7), and without std to `E0500`.
fn fixed_size_examples() -> Vec<PathBuf> {
    common::net_files("examples")
        .into_iter()
        .filter(|p| !common::has_runtime_dims(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

#[test]
fn examples_with_run_time_dims_are_refused_without_std() {
    let mut run_time = 0;
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let program = netgrad::front_end(&text).unwrap().program;
        let refused = netgrad::codegen_unsupported(&program, true);
        assert_eq!(
            refused.len(),
            program.runtime_dims().count(),
            "{}",
            path.display()
        );
        assert!(netgrad::codegen_unsupported(&program, false).is_empty());
        run_time += usize::from(!refused.is_empty());
    }
    assert!(run_time >= 2, "{run_time} examples with run-time dims");
}

#[test]
fn generated_code_is_clean_and_agrees_with_the_interpreter() {
    let files = fixed_size_examples();
    // Two at a time: rustc dominates, and the machine has two cores.
    let results = common::on_two_threads(&files, |path| {
        [false, true].map(|no_std| {
            let f64_err = check_example(path, Float::F64, no_std, &dir_for(path, Float::F64));
            let f32_err = check_example(path, Float::F32, no_std, &dir_for(path, Float::F32));
            (path.display().to_string(), no_std, f64_err, f32_err)
        })
    });
    for (name, no_std, f64_err, f32_err) in results.iter().flatten() {
        let mode = if *no_std { "no-std" } else { "std" };
        eprintln!("{name} ({mode}): f64 {f64_err:e}, f32 {f32_err:e}");
        assert!(*f64_err <= 1e-12, "{name} ({mode}): f64 off by {f64_err:e}");
        assert!(*f32_err <= 1e-4, "{name} ({mode}): f32 off by {f32_err:e}");
    }
    for path in &files {
        for float in [Float::F64, Float::F32] {
            let _ = std::fs::remove_dir_all(dir_for(path, float));
        }
    }
}

#[test]
fn numerics_at_the_edges_agree_with_the_interpreter() {
    // At the seed's values in [-1, 1): a mean of eight terms of about
    // 1.7e308 (the plain sum overflows), log(1 + exp(800 w)) (exp overflows
    // in its naive derivative), 0^(p + 2) differentiated in p (0 * log 0).
    // Every element must be finite and agree with the interpreter.
    let text = "dim N = 8\n\
                param big[N], logit[N], power, shift\n\
                h[i] = 1.7e308 * sigmoid(big[i] + 40)\n\
                z = max(shift, 2) - 2\n\
                loss E = mean(i, h[i]) + sum(i, log(1 + exp(800 * logit[i]))) + z^(power + 2)\n";
    // Logits near 1e16, where a logsumexp rounds to its max: the residual
    // it keeps for differences (`netgrad::lse`), per sample of a batch, as
    // one value with kept exponentials, and over more classes than are kept.
    let lse = "dim N = 3\ndim K = 2\ndim C = 1100\n\
               param w[N, K], v[C]\n\
               a[n, k] = 1e16 + 4 * w[n, k]\n\
               b[c] = 1e16 + 4 * v[c]\n\
               one = logsumexp(k, a[0, k])\n\
               wide = logsumexp(c, b[c])\n\
               p[k] = exp(a[0, k] - one)\n\
               loss E = sum(n, logsumexp(k, a[n, k]) - a[n, 0]) + (one - a[0, 1]) \
                        + (wide - b[3]) - log(p[1])\n\
               output p\n";
    for (name, text) in [("edges", text), ("lse", lse)] {
        for no_std in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "netgrad-codegen-{}-{name}-{no_std}",
                std::process::id()
            ));
            let err = check_source(&format!("{name}.net"), text, Float::F64, no_std, &dir);
            assert!(err <= 1e-12, "{name}, no_std {no_std}: off by {err:e}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn long_argument_chains_are_laid_out_as_rustfmt_lays_them_out() {
    // A rank-4 param with a long name: the typed API passes it on as
    // `params.filter_weights.as_flattened().as_flattened().as_flattened()`,
    // past rustfmt's chain width of 60, so one link a line (`grad.` keeps
    // its first link, being no longer than an indent). Printed on one line,
    // the module failed `rustfmt --check`.
    let text = "dim A = 2\ndim B = 3\ndim C = 2\ndim D = 2\n\
                input x[A, B, C, D]\nparam filter_weights[A, B, C, D]\n\
                loss E = sum(a, b, c, d, filter_weights[a, b, c, d] * x[a, b, c, d])^2\n";
    let dir = std::env::temp_dir().join(format!("netgrad-codegen-{}-rank4", std::process::id()));
    let err = check_source("rank4.net", text, Float::F64, false, &dir);
    assert!(err <= 1e-12, "off by {err:e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The module as `netgrad compile` writes it: for a file with run-time
/// dims, the numbers computed from their sizes come from `Dims`.
#[test]
fn generated_code_matches_its_snapshot_and_is_deterministic() {
    insta::glob!("../examples", "*.net", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        // As `netgrad compile` writes it: with run-time dims, numbers
        // computed from their sizes come from `Dims`.
        let make = || {
            let (g, _, numbers) = netgrad::derive_symbolic(&text, &[], true).unwrap();
            let options = Options {
                float: Float::F64,
                source: common::relative(path),
                share: true,
                no_std: false,
                features: Default::default(),
                math: Default::default(),
            };
            generate_sized(&g, &options, &numbers).unwrap()
        };
        let code = make();
        assert_eq!(code, make(), "two compilations differ");
        insta::assert_snapshot!(code);
    });
}

#[test]
fn random_programs_compile_cleanly_and_agree_with_the_interpreter() {
    // Seeds 0..24 of the generator that the autodiff property test uses.
    let seeds: Vec<u64> = (0..24).collect();
    let worst = common::on_two_threads(&seeds, |&seed| {
        let src = common::random::Gen::new(seed).program();
        let dir = std::env::temp_dir().join(format!(
            "netgrad-codegen-{}-random-{seed}",
            std::process::id()
        ));
        // Every fourth program also as no-std code.
        let mut err = check_source(&format!("random{seed}.net"), &src, Float::F64, false, &dir);
        if seed % 4 == 0 {
            let no_std = check_source(&format!("random{seed}.net"), &src, Float::F64, true, &dir);
            err = err.max(no_std);
        }
        let _ = std::fs::remove_dir_all(&dir);
        (seed, err)
    });
    for (seed, err) in worst {
        assert!(
            err <= 1e-12,
            "random program {seed}: gradient off by {err:e}"
        );
    }
}

#[test]
fn random_programs_of_other_sizes_exercise_the_schedules() {
    // Dims A and B of odd sizes, size 1, below and above the 8 accumulators
    // of an f64 sum (16 of an f32 one), so that sums run in lanes with and
    // without a remainder, or sequentially, and scatter rows have length 1.
    let cases: Vec<(u64, usize, usize)> = vec![
        (100, 1, 17),
        (101, 7, 9),
        (102, 19, 1),
        (103, 8, 33),
        (104, 16, 5),
        (105, 3, 24),
        (106, 1, 1),
        (107, 9, 8),
    ];
    let worst = common::on_two_threads(&cases, |&(seed, a, b)| {
        let src = common::random::Gen::with_sizes(seed, a, b).program();
        let dir = std::env::temp_dir().join(format!(
            "netgrad-codegen-{}-sizes-{seed}",
            std::process::id()
        ));
        let name = format!("random{seed}.net");
        let mut err = check_source(&name, &src, Float::F64, false, &dir);
        if seed % 2 == 0 {
            err = err.max(check_source(&name, &src, Float::F64, true, &dir));
        }
        let f32_err = check_source(&name, &src, Float::F32, false, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        (seed, err, f32_err)
    });
    for (seed, err, f32_err) in worst {
        assert!(err <= 1e-12, "random program {seed}: f64 off by {err:e}");
        assert!(
            f32_err <= 1e-4,
            "random program {seed}: f32 off by {f32_err:e}"
        );
    }
}

#[test]
fn transposed_and_repeated_reads_agree_with_the_interpreter() {
    // tests/schedule/shapes.net: sums in scatter form, in lanes with a
    // remainder, over a transposed read, over a read repeated in one term,
    // over a dim of size 1, and a blocked nest with leftover rows.
    let path = common::root().join("tests/schedule/shapes.net");
    for float in [Float::F64, Float::F32] {
        for no_std in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "netgrad-codegen-{}-shapes-{float:?}-{no_std}",
                std::process::id()
            ));
            let err = check_example(&path, float, no_std, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
            assert!(
                err <= tolerance,
                "{float:?}, no_std {no_std}: off by {err:e}"
            );
        }
    }
    let code = generate(
        &common::simplified(&std::fs::read_to_string(&path).unwrap()),
        &Options {
            float: Float::F64,
            source: "tests/schedule/shapes.net".into(),
            share: true,
            no_std: false,
            features: Default::default(),
            math: Default::default(),
        },
    )
    .unwrap();
    for schedule in [
        "// schedule: scatter, loops m (4 at a time), n: each term added into rows of b (stride 1 in n)",
        "// schedule: gather, loops n (blocks of 4), m; sum over j in 4 lanes",
        "// schedule: gather, loops m; sum over n in 8 lanes; sum over n_2 in 8 lanes",
        "// schedule: sum over k, n in 8 lanes in one accumulator",
    ] {
        assert!(code.contains(schedule), "no `{schedule}` in\n{code}");
    }
}

#[test]
fn builder_errors_print_what_netgrad_check_prints() {
    let dir = std::env::temp_dir().join(format!("netgrad-codegen-{}-builder", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in [
        "tests/fail/E0001_missing_equals.net",
        "tests/fail/E0002_not_utf8.net",
    ] {
        let path = common::root().join(file);
        let err = netgrad::Builder::new()
            .out_dir(&dir)
            .cargo_metadata(false)
            .compile(&path)
            .unwrap_err();
        let check = Command::new(env!("CARGO_BIN_EXE_netgrad"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let printed = String::from_utf8(check.stderr).unwrap();
        assert!(printed.contains("error"), "{file}: {printed}");
        assert_eq!(err.to_string(), printed, "{file}");
        // Debug, as `unwrap` and `main` print it: the same lines, not escapes.
        assert_eq!(format!("{err:?}"), format!("\n{printed}"), "{file}");
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(boxed.to_string(), printed);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_builder_writes_no_std_code_on_request() {
    let dir = std::env::temp_dir().join(format!("netgrad-codegen-{}-no-std", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xor = common::root().join("examples/xor.net");
    let build = |no_std, math| {
        let out = netgrad::Builder::new()
            .no_std(no_std)
            .math(math)
            .module_name(&format!("xor_{no_std}_{math:?}"))
            .out_dir(&dir)
            .cargo_metadata(false)
            .compile(&xor)
            .unwrap();
        std::fs::read_to_string(out).unwrap()
    };
    // std's (or libm's) exp and ln on request,
    let (std_code, no_std_code) = (
        build(false, MathFunctions::Std),
        build(true, MathFunctions::Std),
    );
    assert!(std_code.contains(".exp()") && !std_code.contains("libm::"));
    assert!(!std_code.contains("math::") && !std_code.contains("mod math"));
    assert!(std_code.contains("// Needs `std` for float methods (f64::exp, f64::ln)."));
    assert!(no_std_code.contains("libm::exp(") && !no_std_code.contains(".exp()"));
    assert!(no_std_code.contains("// Needs `core` and the `libm` crate (exp, log)."));
    // By default without std, the module's own, in `core`;
    let fast_no_std = build(true, MathFunctions::Fast);
    assert!(fast_no_std.contains("super::math::exp(") && fast_no_std.contains("math::ln("));
    assert!(!fast_no_std.contains("libm::") && !fast_no_std.contains(".exp()"));
    assert!(fast_no_std.contains("// Needs only `core`."));
    assert!(fast_no_std.contains("\nmod math {\n"));
    // with std, std's exp and ln, which are faster than ours (`STD_FASTER`), and
    // the branch-free sigmoid.
    let fast = build(false, MathFunctions::Fast);
    assert!(fast.contains("let e = (-super::math::abs(x)).exp();"));
    assert!(fast.contains(".ln()") && !fast.contains("math::ln(") && !fast.contains("libm::"));
    assert!(fast.contains("// Needs `std` for float methods (f64::exp, f64::ln)."));
    assert!(no_std_code.contains("pub const SCRATCH_LEN: usize = 0;"));
    assert!(no_std_code.contains(
        "pub fn loss_flat(inputs: &[f64], params: &[f64], _scratch: &mut [f64]) -> f64 {"
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--math std` (`MathFunctions::Std`) writes std's float methods, or libm's
/// functions without std, and no `mod math`: every example compiles cleanly and
/// agrees with the interpreter that way too, in f64 and f32, with std and without.
/// (The default, the module's own functions, is what every other test checks.)
#[test]
fn std_math_functions_on_request_compile_and_agree() {
    let files = fixed_size_examples();
    let results = common::on_two_threads(&files, |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = common::relative(path);
        let code = generate(
            &common::simplified(&text),
            &Options {
                float: Float::F64,
                source: name.clone(),
                share: true,
                no_std: false,
                features: Default::default(),
                math: MathFunctions::Std,
            },
        )
        .unwrap();
        assert!(
            !code.contains("math::") && !code.contains("mod math"),
            "{name}"
        );
        [(Float::F64, false), (Float::F32, true)].map(|(float, no_std)| {
            let dir = std::env::temp_dir().join(format!(
                "netgrad-codegen-{}-std-math-{}-{float:?}",
                std::process::id(),
                path.file_stem().unwrap().to_string_lossy()
            ));
            let setup = Setup {
                math: MathFunctions::Std,
                ..Setup::new(float, no_std)
            };
            let err = check_with(&name, &text, setup, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            (name.clone(), float, no_std, err)
        })
    });
    for (name, float, no_std, err) in results.iter().flatten() {
        let tolerance = if *float == Float::F64 { 1e-12 } else { 1e-4 };
        assert!(
            *err <= tolerance,
            "{name} {float:?} no_std {no_std}: off by {err:e}"
        );
    }
}

/// Issue 13, item 5: every name the language accepts makes a module that
/// compiles: Rust keywords, the module's own items, the prelude's variants,
/// the generated functions' parameters, and index variables named like the
/// generator's accumulators and temporaries.
#[test]
fn names_that_rust_or_the_generator_reserve_still_compile() {
    let text = "\
dim N_INPUTS = 3
dim inputs = 2
dim struct = 9
dim Self = 2
input x[N_INPUTS], grad[inputs]
param Ok[struct, N_INPUTS], Some[struct], None[Self, struct], Inputs
Err[acc1] = tanh(sum(t1, Ok[acc1, t1] * x[t1]) + Some[acc1])
lengths[acc2] = sum(acc1, None[acc2, acc1] * Err[acc1]) * Inputs
loss E = sum(lane0, (lengths[lane0] - grad[lane0])^2)
output lengths
";
    for (float, no_std) in [(Float::F64, false), (Float::F32, true)] {
        let dir = std::env::temp_dir().join(format!(
            "netgrad-codegen-{}-names-{float:?}-{no_std}",
            std::process::id()
        ));
        let err = check_source("names.net", text, float, no_std, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
        assert!(err <= tolerance, "{float:?}: off by {err:e}");
    }
}

/// Generated functions keep at most 64 KiB of arrays on the stack: a chain
/// of 40 definitions of 4,096 scalars (1.3 MiB of arrays in the loss alone,
/// twice that in the gradient) runs on a 512 KiB stack. Before the budget,
/// every array of up to 4,096 scalars was on the stack and this overflowed
/// it ("fatal runtime error: stack overflow").
#[test]
fn generated_code_keeps_within_its_stack_budget() {
    let mut text = String::from("dim N = 4096\ninput x[N]\nparam w[N]\nh0[i] = w[i] * x[i]\n");
    for k in 1..40 {
        text.push_str(&format!("h{k}[i] = tanh(h{}[i]) * x[i]\n", k - 1));
    }
    text.push_str("loss E = sum(i, h39[i])\n");
    for (float, no_std) in [(Float::F64, false), (Float::F32, true)] {
        let dir = std::env::temp_dir().join(format!(
            "netgrad-codegen-{}-stack-{float:?}-{no_std}",
            std::process::id()
        ));
        let setup = Setup {
            stack_kib: Some(512),
            ..Setup::new(float, no_std)
        };
        let err = check_with("stack.net", &text, setup, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
        assert!(err <= tolerance, "{float:?}: off by {err:e}");
    }
}

/// A softmax over many classes keeps no array of its exponentials on the
/// stack (which `STACK_BUDGET` does not count): up to 1,024 terms it does,
/// beyond it computes them twice, so no stack array exceeds `STACK_LIMIT`.
#[test]
fn a_softmax_keeps_its_exponentials_only_when_they_are_few() {
    let net = |k: usize| {
        format!(
            "dim K = {k}\ninput t[K]\nparam a[K]\nlse = logsumexp(k, a[k])\n\
             p[k] = exp(a[k] - lse)\nloss E = lse - sum(k, t[k] * a[k])\noutput p\n"
        )
    };
    let code = |k: usize| {
        let options = Options {
            float: Float::F64,
            source: "softmax.net".into(),
            share: true,
            no_std: false,
            features: Default::default(),
            math: Default::default(),
        };
        generate(&common::simplified(&net(k)), &options).unwrap()
    };
    let few = code(1024);
    assert!(few.contains("_exp = [0.0; 1024];"), "{few}");
    let many = code(100_000);
    assert!(!many.contains("_exp"), "{many}");
    assert!(!many.contains("= [0.0; 100000]"));
}

/// Matrix products run through the generated module's kernel in every
/// variant the machine can run: portable, run-time dispatch, and compile-time
/// selection both without and (when the CPU has them) with AVX2 and FMA
/// enabled, in f64 and f32, the compile-time ones also as `--no-std` code
/// (the packing buffer in the scratch); on the batched MNIST net and on odd shapes with
/// transposed operands, a product inside a formula, a product of a value
/// with itself, and products into param gradients.
#[test]
fn matrix_products_agree_in_every_kernel_variant() {
    let mut variants: Vec<(TargetFeatures, &[&str])> = vec![
        (TargetFeatures::Portable, &[]),
        (TargetFeatures::Dispatch, &[]),
        (TargetFeatures::Native, &[]),
    ];
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        variants.push((TargetFeatures::Native, &["-C", "target-feature=+avx2,+fma"]));
    }
    let files = [
        "examples/mlp_mnist_batch.net",
        "tests/schedule/products.net",
    ];
    let mut cases = Vec::new();
    for file in files {
        for (features, rustflags) in &variants {
            for float in [Float::F64, Float::F32] {
                for no_std in [false, true] {
                    if !no_std || *features != TargetFeatures::Dispatch {
                        cases.push((file, *features, *rustflags, float, no_std));
                    }
                }
            }
        }
    }
    let results = common::on_two_threads(&cases, |&(file, features, rustflags, float, no_std)| {
        let text = std::fs::read_to_string(file).unwrap();
        let code = generate(
            &common::simplified(&text),
            &Options {
                float,
                source: file.to_string(),
                share: true,
                no_std,
                features,
                math: Default::default(),
            },
        )
        .unwrap();
        assert!(code.contains("gemm::gemm("), "{file}: no matrix product");
        let dir = std::env::temp_dir().join(format!(
            "netgrad-codegen-{}-gemm-{}-{features:?}-{}-{float:?}-{no_std}",
            std::process::id(),
            Path::new(file).file_stem().unwrap().to_string_lossy(),
            rustflags.len()
        ));
        let setup = Setup {
            features,
            rustflags,
            ..Setup::new(float, no_std)
        };
        let err = check_with(file, &text, setup, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        let mode = if no_std { "no-std" } else { "std" };
        (file, features, rustflags.join(" "), float, mode, err)
    });
    for (file, features, flags, float, mode, err) in results {
        let case = format!("{file} {features:?} {flags} {float:?} {mode}");
        eprintln!("{case}: {err:e}");
        let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
        assert!(err <= tolerance, "{case}: off by {err:e}");
    }
}

#[test]
fn max_and_min_reductions_agree_with_the_interpreter() {
    // Max pooling, a min, several binders, a max inside an expression.
    let pooling = "dim N = 3\ndim K = 4\ndim J = 5\ninput x[N, K]\nparam a[N, K], w[K], c[J, K]\n\
                   m[n] = max(k, relu(a[n, k] * x[n, k]))\n\
                   z[n] = min(k, a[n, k]) + max(k, a[n, k] * x[n, k])\n\
                   s = max(j, k, c[j, k] * w[k]) - min(k, j, c[j, k])\n\
                   loss E = sum(n, (m[n] + z[n])^2 + tanh(max(k, a[n, k] * w[k]))) + exp(s)\n\
                   output m, z\n";
    // Ties whose position matters: `w[k] * 1e-30 + 1` rounds to 1 at every
    // k, in f64 and f32, but its derivative in w[k] is 1e-30 only at the
    // position the adjoint goes to, 1 once scaled by the loss's 1e30: taking
    // any other position than the first is an error of 1 in the gradient.
    let ties = "dim K = 4\ndim J = 3\nparam w[K], v[J, K]\n\
                loss E = 1e30 * max(k, w[k] * 1e-30 + 1) - 1e30 * min(j, k, v[j, k] * 1e-30 + 1)\n";
    for (name, text) in [("pooling", pooling), ("ties", ties)] {
        for float in [Float::F64, Float::F32] {
            for no_std in [false, true] {
                let dir = std::env::temp_dir().join(format!(
                    "netgrad-codegen-{}-{name}-{float:?}-{no_std}",
                    std::process::id()
                ));
                let err = check_source(&format!("{name}.net"), text, float, no_std, &dir);
                let _ = std::fs::remove_dir_all(&dir);
                let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
                assert!(
                    err <= tolerance,
                    "{name}, {float:?}, no_std {no_std}: off by {err:e}"
                );
            }
        }
    }
}

#[test]
fn affine_subscripts_agree_with_the_interpreter() {
    // A 2-D convolution (two solved indices in the input's adjoint), a
    // stride (a divisibility check), an offset, a reversal (a negative
    // coefficient) and an affine subscript beside a plain one (a delta).
    let conv2d = "dim C = 2\ndim H = 6\ndim W = 5\ndim KH = 3\ndim KW = 2\n\
                  dim OH = H - KH + 1\ndim OW = W - KW + 1\n\
                  param x[C, H, W], f[C, KH, KW]\n\
                  y[i in OH, j in OW] = sum(c, di, dj, f[c, di, dj] * x[c, i + di, j + dj])\n\
                  loss E = sum(i, j, sigmoid(y[i, j]))\noutput y\n";
    let others = "dim L = 11\ndim W = 3\ndim S = 2\ndim O = (L - W) / S + 1\ndim L1 = L - 1\n\
                  param x[L], w[W], m[L, L1], u[L1]\n\
                  y[o in O] = sum(dw, w[dw] * x[S * o + dw])\n\
                  d[i in L1] = x[i + 1] * u[i] + x[L - 1 - i] * m[i + 1, i]\n\
                  loss E = sum(o, y[o]^2) + sum(i, tanh(d[i]))\n";
    // With `where`: an index compared in a definition read at an affine
    // subscript, affine reads in a branch and in a condition.
    let conditions = "dim N = 6\ndim M = 5\nparam w[N], x[N]\n\
                      h[i] = where(i < 3 and i >= 1, w[i]^2, 2 * w[i] + x[N - 1 - i])\n\
                      y[o in M] = h[o + 1] * where(o + 1 > 2 and x[o + 1] < 0.5, x[o + 1], 1)\n\
                      loss E = sum(o, y[o]^2)\n";
    for (name, text) in [
        ("conv2d", conv2d),
        ("others", others),
        ("conditions", conditions),
    ] {
        for float in [Float::F64, Float::F32] {
            let dir = std::env::temp_dir().join(format!(
                "netgrad-codegen-{}-affine-{name}-{float:?}",
                std::process::id()
            ));
            let err = check_source(&format!("{name}.net"), text, float, false, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
            assert!(err <= tolerance, "{name}, {float:?}: off by {err:e}");
        }
    }
}

#[test]
fn padding_agrees_with_the_interpreter() {
    // Zero padding by `where` (tests/padding.rs): reads in bounds only in
    // the branch taken, which generated code must compute only there: a
    // padded signal, the padding inside a sum (an affine condition; the
    // adjoint's read in the branch), a "same" 2-D convolution, the else
    // branch, `or`, `not`, nested branches, a guarded subterm used twice,
    // and a reduction inside a branch.
    let pad1d = "dim L = 7\ndim K = 3\ndim P = 1\ndim LP = L + 2 * P\ndim O = LP - K + 1\n\
                 param x[L], w[K]\n\
                 xp[i in LP] = where(i >= P and i < L + P, x[i - P], 0)\n\
                 y[o in O] = sum(k, w[k] * xp[o + k])\n\
                 loss E = sum(o, tanh(y[o])^2)\noutput y\n";
    let inline = "dim L = 7\ndim K = 3\ndim P = 1\ndim O = L + 2 * P - K + 1\nparam x[L], w[K]\n\
                  y[o in O] = sum(k, where(o + k >= P and o + k < L + P, w[k] * x[o + k - P], 0))\n\
                  loss E = sum(o, tanh(y[o])^2)\noutput y\n";
    let pad2d = "dim C = 2\ndim H = 5\ndim W = 4\ndim P = 1\ndim K = 3\ndim F = 2\n\
                 param x[C, H, W], f[F, C, K, K]\n\
                 y[g, i in H, j in W] = sum(c, di, dj, f[g, c, di, dj] * \
                 where(i + di >= P and i + di < H + P and j + dj >= P and j + dj < W + P, \
                 x[c, i + di - P, j + dj - P], 0))\n\
                 loss E = sum(g, i, j, sigmoid(y[g, i, j]))\noutput y\n";
    let branches = "dim L = 6\ndim P = 2\ndim LP = L + P\nparam x[L]\n\
                    a[i in LP] = where(i < P, 0, x[i - P])\n\
                    b[i in LP] = where(i < P or i >= L + P, 0, x[i - P]^2)\n\
                    c[i in LP] = where(not (i < P), sin(x[i - P]), 1)\n\
                    d[i in LP] = where(i >= P, where(i - P < L, x[i - P], 0), x[2 * i])\n\
                    g[i in LP] = where(i >= P and i < L + P, tanh(x[i - P]) * 3, 0) + where(i > P and i < L + P, tanh(x[i - P]) * 3, 1)\n\
                    q[i in LP] = where(i >= P and i < L + P, sum(k in L, x[k] * tanh(x[i - P] * x[k])), 0)\n\
                    loss E = sum(i, a[i] * b[i] + c[i] * d[i] + g[i] * q[i])\noutput q\n";
    for (name, text) in [
        ("pad1d", pad1d),
        ("inline", inline),
        ("pad2d", pad2d),
        ("branches", branches),
    ] {
        for float in [Float::F64, Float::F32] {
            for no_std in [false, true] {
                let dir = std::env::temp_dir().join(format!(
                    "netgrad-codegen-{}-padding-{name}-{float:?}-{no_std}",
                    std::process::id()
                ));
                let err = check_source(&format!("{name}.net"), text, float, no_std, &dir);
                let _ = std::fs::remove_dir_all(&dir);
                let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
                assert!(
                    err <= tolerance,
                    "{name}, {float:?}, no_std {no_std}: off by {err:e}"
                );
            }
        }
    }
}

#[test]
fn convolutions_and_pooling_run_in_taps_and_spread_form() {
    // A small LeNet: convolutions (taps form), their weight gradients
    // (chains of sums in one accumulator), the adjoints of the affine reads
    // and of the strided pooling windows (spread form, no `ops::solve`),
    // at odd sizes: 10 x 10 images, 3 x 3 and 2 x 1 kernels, rows of 8 and 4.
    let lenet = "dim N = 2\ndim H = 10\ndim K = 3\ndim K2 = 2\ndim K1 = 1\ndim C1 = 3\n\
                 dim H1 = H - K + 1\ndim S = 2\ndim Q1 = H1 / S\ndim C2 = 2\n\
                 dim H2 = Q1 - K2 + 1\ndim W2 = Q1 - K1 + 1\ndim M = 3\n\
                 input x[N, H, H], t[N, M]\n\
                 param k1[C1, K, K], b1[C1], k2[C2, C1, K2, K1], b2[C2], w3[M, C2, H2, W2]\n\
                 a1[n, c, i in H1, j in H1] = sum(di, dj, k1[c, di, dj] * x[n, i + di, j + dj]) + b1[c]\n\
                 z1[n, c, i, j] = tanh(a1[n, c, i, j])\n\
                 p1[n, c, i in Q1, j in Q1] = max(di in S, dj in S, z1[n, c, S * i + di, S * j + dj])\n\
                 a2[n, d, i in H2, j in W2] = sum(c, di, dj, k2[d, c, di, dj] * p1[n, c, i + di, j + dj]) + b2[d]\n\
                 z2[n, d, i, j] = tanh(a2[n, d, i, j])\n\
                 a3[n, m] = sum(d, i, j, w3[m, d, i, j] * z2[n, d, i, j])\n\
                 lse[n] = logsumexp(m, a3[n, m])\n\
                 loss E = mean(n, lse[n] - sum(m, t[n, m] * a3[n, m]))\n";
    for float in [Float::F64, Float::F32] {
        for no_std in [false, true] {
            let dir = std::env::temp_dir().join(format!(
                "netgrad-codegen-{}-lenet-{float:?}-{no_std}",
                std::process::id()
            ));
            let err = check_source("lenet.net", lenet, float, no_std, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
            assert!(
                err <= tolerance,
                "{float:?}, no_std {no_std}: off by {err:e}"
            );
        }
    }
    let code = generate(
        &common::simplified(lenet),
        &Options {
            float: Float::F64,
            source: "lenet.net".into(),
            share: true,
            no_std: false,
            features: Default::default(),
            math: Default::default(),
        },
    )
    .unwrap();
    for schedule in [
        "// schedule: taps, loops n, c, i, di, dj, j: each term added into a row of accumulators over j (the tap broadcast), then a1's row from them",
        "// schedule: taps, loops n, d, i, c, di, dj, j: each term added into a row of accumulators over j (the tap broadcast), then a2's row from them",
        "// schedule: spread, loops n, c, d, di, dj, i, j: each term added into d_p1[n, c, i + di, j + dj], no index solved",
        "// schedule: spread, loops n, c, di, dj, i, j: each term added into d_z1[n, c, 2 * i + di, 2 * j + dj], no index solved",
        "// schedule: gather, loops c; sum over n, i, j in 8 lanes in one accumulator",
        "let x_row = &x[x_row..x_row + 8];",
    ] {
        assert!(code.contains(schedule), "no `{schedule}` in\n{code}");
    }
    assert!(!code.contains("ops::solve("), "{code}");
}

#[test]
fn where_agrees_with_the_interpreter() {
    // A causal mask before a softmax; `and`, `or`, `not`, nested `where`s
    // and an index compared with a literal; reductions in a branch and in a
    // condition; a comparison whose condition became a value of its own.
    let mask = "dim T = 4\ndim D = 3\ninput q[T, D], k[T, D], v[T, D]\nparam wq[D, D]\n\
                s[i, j] = sum(d, sum(e, wq[d, e] * q[i, e]) * k[j, d])\n\
                m[i, j] = where(j <= i, s[i, j], -1e9)\n\
                a[i, j] = exp(m[i, j] - logsumexp(j2, m[i, j2]))\n\
                o[i, d] = sum(j, a[i, j] * v[j, d])\n\
                loss E = sum(i, d, o[i, d]^2)\noutput m\n";
    let logic = "dim N = 5\ninput x[N]\nparam w[N], c\n\
                 h[i] = where((x[i] > 0 and i != 2) or not w[i] < c, w[i] * x[i], c * w[i]^2)\n\
                 g[i] = where(i < 2 or i >= N - 1, where(w[i] >= 0, w[i], -2 * w[i]), sin(w[i]))\n\
                 loss E = sum(i, h[i] + g[i]^2) + where(c >= 0.5, c^2, -c)\noutput h\n";
    let reductions = "dim K = 4\nparam w[K], b\n\
                      loss E = where(sum(k, w[k]) > b, sum(k, w[k]^2), mean(k, exp(w[k]))) \
                      + sum(k, where(w[k] < max(j, w[j]), w[k] * b, b^2))\n";
    let shared = "dim N = 3\ninput x[N]\nparam w[N], c\n\
                  a[i] = where(x[i] > c, w[i] * x[i], sin(w[i]))^2 + where(x[i] > c, w[i] * x[i], sin(w[i]))\n\
                  b[i] = where(i == 1, where(x[i] > c, w[i] * x[i], sin(w[i])), c)\n\
                  loss E = sum(i, a[i] * b[i]) + where(c < 0, sum(i, where(x[i] > c, w[i] * x[i], sin(w[i]))), c)\n";
    for (name, text) in [
        ("mask", mask),
        ("logic", logic),
        ("reductions", reductions),
        ("shared", shared),
    ] {
        for float in [Float::F64, Float::F32] {
            for no_std in [false, true] {
                let dir = std::env::temp_dir().join(format!(
                    "netgrad-codegen-{}-where-{name}-{float:?}-{no_std}",
                    std::process::id()
                ));
                let err = check_source(&format!("{name}.net"), text, float, no_std, &dir);
                let _ = std::fs::remove_dir_all(&dir);
                let tolerance = if float == Float::F64 { 1e-12 } else { 1e-4 };
                assert!(
                    err <= tolerance,
                    "{name}, {float:?}, no_std {no_std}: off by {err:e}"
                );
            }
        }
    }
}

/// Each adjoint in the generated code is named after its value (`d_z` for
/// ∂E/∂z), also after a logsumexp that keeps its rounding residual: the
/// residual value shifts every later value's id, and the adjoints used to
/// take their neighbours' names (∂E/∂z was `d__t2`, ∂E/∂p `d_lse_lo`).
#[test]
fn adjoints_after_a_logsumexp_are_named_after_their_values() {
    let text = "dim K = 3\ninput t[K]\nparam w[K]\na[k] = w[k] * t[k]\n\
                lse = logsumexp(k, a[k])\np[k] = exp(a[k] - lse)\n\
                q[k] = tanh(p[k]) * t[k]\nz[k] = tanh(q[k]) * t[k]\n\
                loss E = sum(k, z[k]^2)\n";
    let options = Options {
        float: Float::F64,
        source: "t.net".to_string(),
        share: true,
        no_std: false,
        features: Default::default(),
        math: Default::default(),
    };
    let code = generate(&common::simplified(text), &options).unwrap();
    for name in ["d_z", "d_q", "d_p", "d_lse", "d_a"] {
        assert!(
            code.contains(&format!("let {name}")),
            "no {name} in\n{code}"
        );
    }
    assert!(
        !code.contains("d_lse_lo") && !code.contains("d__t"),
        "an adjoint named after another value:\n{code}"
    );
}
