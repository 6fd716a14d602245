//! The text of the GEMM module generated code carries (`netgrad::codegen::kernels`), in
//! every variant: deterministic and stable under rustfmt; clean under clippy `-D warnings`,
//! the Portable text in a `#![forbid(unsafe_code)]` crate (it has no `unsafe` at all) and the
//! no_std texts in a `#![no_std]` crate; and the Native text, compiled for AVX2 and FMA, right
//! on the batched MNIST net's shapes. tests/generated/tests/kernels.rs checks the numbers of
//! every variant and micro-kernel over every edge path.

use std::path::Path;
use std::process::Command;

use netgrad::codegen::kernels::{gemm_module, math_module, TargetFeatures, MATH};
use netgrad::Float;

const FEATURES: [TargetFeatures; 3] = [
    TargetFeatures::Portable,
    TargetFeatures::Native,
    TargetFeatures::Dispatch,
];

/// Every variant: its name, its options and its text.
fn variants() -> Vec<(String, Float, TargetFeatures, bool, String)> {
    let mut all = Vec::new();
    for float in [Float::F64, Float::F32] {
        for features in FEATURES {
            for no_std in [false, true] {
                let name = format!("{float:?}_{features:?}_{no_std}").to_lowercase();
                let text = gemm_module(float, features, no_std);
                all.push((name, float, features, no_std, text));
            }
        }
    }
    all
}

/// Runs a command; panics with its output if it fails.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let [stdout, stderr] =
        [out.stdout, out.stderr].map(|b| String::from_utf8_lossy(&b).into_owned());
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

fn scratch_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("netgrad-kernels-{}-{what}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_text_is_deterministic() {
    let texts: Vec<String> = variants().into_iter().map(|v| v.4).collect();
    let again: Vec<String> = variants().into_iter().map(|v| v.4).collect();
    assert_eq!(texts, again);
}

#[test]
fn the_portable_text_has_no_unsafe_and_no_intrinsics() {
    for (name, _, features, _, text) in variants() {
        let portable = features == TargetFeatures::Portable;
        assert_eq!(!text.contains("unsafe"), portable, "{name}");
        assert_eq!(!text.contains("_mm256"), portable, "{name}");
    }
}

#[test]
fn each_text_is_of_its_float_only() {
    for (name, float, _, _, text) in variants() {
        let other = if float == Float::F64 {
            ["f32", "_ps "]
        } else {
            ["f64", "_pd "]
        };
        for word in other {
            assert!(!text.contains(word), "{name} contains {word}");
        }
    }
}

#[test]
fn no_std_text_uses_core_only_and_dispatch_becomes_native() {
    for float in [Float::F64, Float::F32] {
        for features in FEATURES {
            let text = gemm_module(float, features, true);
            assert!(!text.contains("std::"), "{float:?} {features:?}");
        }
        assert_eq!(
            gemm_module(float, TargetFeatures::Dispatch, true),
            gemm_module(float, TargetFeatures::Native, true)
        );
        let dispatch = gemm_module(float, TargetFeatures::Dispatch, false);
        assert!(dispatch.contains("is_x86_feature_detected!(\"avx2\")"));
        assert!(dispatch.contains("static FOUND: AtomicU8"));
    }
}

#[test]
fn the_default_is_dispatch() {
    assert_eq!(TargetFeatures::default(), TargetFeatures::Dispatch);
}

/// rustfmt finds nothing to change, and clippy nothing to say, in a crate that is the
/// module and a `pub use` of its API: `#![forbid(unsafe_code)]` for Portable texts,
/// `#![no_std]` for no_std ones.
#[test]
fn every_text_is_rustfmt_stable_and_clippy_clean() {
    let dir = scratch_dir("clippy");
    for (name, _, features, no_std, text) in variants() {
        let module = format!("{name}.rs");
        std::fs::write(dir.join(&module), &text).unwrap();
        run(
            Command::new("rustfmt")
                .args(["--edition", "2021", "--check", &module])
                .current_dir(&dir),
            &format!("rustfmt --check on {name}"),
        );
        let mut root = String::new();
        if no_std {
            root.push_str("#![no_std]\n");
        }
        if features == TargetFeatures::Portable {
            root.push_str("#![forbid(unsafe_code)]\n");
        }
        root.push_str(&format!(
            "include!(\"{module}\");\npub use gemm::{{gemm, pack_len}};\n"
        ));
        let lib = format!("{name}_lib.rs");
        std::fs::write(dir.join(&lib), root).unwrap();
        clippy_lib(&dir, &name, &lib);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A program that checks the Native modules against a naive product on the batched MNIST
/// net's three shapes, with the strides generated code passes.
const NATIVE_HARNESS: &str = r#"#![deny(warnings)]
mod f64_native {
    include!("f64_native.rs");
    pub use gemm::{gemm, pack_len};
}
mod f32_native {
    include!("f32_native.rs");
    pub use gemm::{gemm, pack_len};
}

/// (m, n, k, rsa, csa, rsb, csb): forward, weight gradient, backprop.
const SHAPES: [[usize; 7]; 3] = [
    [64, 128, 784, 784, 1, 1, 784],
    [128, 784, 64, 1, 128, 784, 1],
    [64, 128, 10, 10, 1, 128, 1],
];

fn main() {
    for [m, n, k, rsa, csa, rsb, csb] in SHAPES {
        let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 / 7.0 - 0.4).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i % 11) as f64 / 11.0 - 0.6).collect();
        let mut want = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| a[i * rsa + p * csa] * b[p * rsb + j * csb]).sum();
            }
        }
        let mut c = vec![0.0; m * n];
        let mut pack = vec![0.0; f64_native::pack_len(m, n, k)];
        f64_native::gemm(m, n, k, &a, rsa, csa, &b, rsb, csb, &mut c, n, 1, false, &mut pack);
        let (a32, b32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&x| x as f32).collect(),
            b.iter().map(|&x| x as f32).collect(),
        );
        let mut c32 = vec![0.0; m * n];
        let mut pack = vec![0.0; f32_native::pack_len(m, n, k)];
        f32_native::gemm(m, n, k, &a32, rsa, csa, &b32, rsb, csb, &mut c32, n, 1, false, &mut pack);
        for e in 0..m * n {
            let scale = 1.0 + want[e].abs();
            assert!((c[e] - want[e]).abs() <= 1e-12 * k as f64 * scale, "f64 {m}x{n}x{k} at {e}");
            assert!((c32[e] as f64 - want[e]).abs() <= 1e-4 * scale, "f32 {m}x{n}x{k} at {e}");
        }
    }
    println!("ok");
}
"#;

/// The Native module compiled for AVX2 and FMA (as by `-C target-cpu=native` on this
/// machine) compiles without warnings and, where the CPU has both, computes right.
#[test]
fn native_compiled_for_avx2_and_fma_is_right() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let dir = scratch_dir("native");
    for float in [Float::F64, Float::F32] {
        let name = format!("{float:?}_native.rs").to_lowercase();
        let text = gemm_module(float, TargetFeatures::Native, false);
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(dir.join("main.rs"), NATIVE_HARNESS).unwrap();
    run(
        Command::new("rustc")
            .args(["--edition", "2021", "-O", "-D", "warnings"])
            .args([
                "-C",
                "target-feature=+avx2,+fma",
                "main.rs",
                "-o",
                "harness",
            ])
            .current_dir(&dir),
        "rustc on the Native harness",
    );
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        let out = run(&mut Command::new(dir.join("harness")), "the Native harness");
        assert_eq!(out, "ok\n");
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(!Path::new(&dir).exists());
}

/// The functions of `mod math`, one at a time and all together.
fn math_sets() -> Vec<Vec<&'static str>> {
    let mut sets: Vec<Vec<&str>> = MATH.iter().map(|f| vec![*f]).collect();
    sets.push(MATH.to_vec());
    sets
}

/// `mod math` (`math_module`): deterministic; of its float only; `core` only; rustfmt-stable
/// and clippy-clean (no dead code) in a `#![no_std]`, `#![forbid(unsafe_code)]` crate, with
/// any set of functions, each kept with exactly the items it uses.
#[test]
fn the_math_module_is_clean_for_every_set_of_functions() {
    let dir = scratch_dir("math");
    for float in [Float::F64, Float::F32] {
        for (n, set) in math_sets().into_iter().enumerate() {
            let text = math_module(float, &set);
            assert_eq!(text, math_module(float, &set));
            let other = if float == Float::F64 { "f32" } else { "f64" };
            assert!(
                !text.contains(other) && !text.contains("std::"),
                "{float:?} {set:?}"
            );
            assert!(!text.contains("unsafe"), "{float:?} {set:?}");
            for f in MATH {
                let defined = text.contains(&format!("pub fn {f}("));
                // `ln_1p` uses `ln`, and tanh uses `abs` (and exp in f64).
                let used = set.contains(&f)
                    || (f == "ln" && set.contains(&"ln_1p"))
                    || (f == "abs" && set.contains(&"tanh"))
                    || (f == "exp" && set.contains(&"tanh") && float == Float::F64);
                assert_eq!(defined, used, "{float:?} {set:?}: {f}");
            }
            let name = format!("math_{float:?}_{n}").to_lowercase();
            let module = format!("{name}.rs");
            std::fs::write(dir.join(&module), &text).unwrap();
            run(
                Command::new("rustfmt")
                    .args(["--edition", "2021", "--check", &module])
                    .current_dir(&dir),
                &format!("rustfmt --check on {name}"),
            );
            let uses: String = set
                .iter()
                .map(|f| format!("pub use math::{f};\n"))
                .collect();
            let lib = format!("{name}_lib.rs");
            std::fs::write(
                dir.join(&lib),
                format!("#![no_std]\n#![forbid(unsafe_code)]\ninclude!(\"{module}\");\n{uses}"),
            )
            .unwrap();
            clippy_lib(&dir, &name, &lib);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A loop of exp over an array vectorises with SSE2 alone (the x86_64 baseline): the code
/// has packed multiplies and no call (std's `exp` would be a call per element).
#[test]
fn a_loop_over_exp_vectorises_with_sse2() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let dir = scratch_dir("vectorise");
    let module = math_module(Float::F64, &["exp"]);
    let lib = format!(
        "{module}\n#[no_mangle]\npub fn exps(x: &[f64; 64], y: &mut [f64; 64]) {{\n    \
         for i in 0..64 {{\n        y[i] = math::exp(x[i]);\n    }}\n}}\n"
    );
    std::fs::write(dir.join("exps.rs"), lib).unwrap();
    run(
        Command::new("rustc")
            .args([
                "--edition",
                "2021",
                "-O",
                "--crate-type",
                "cdylib",
                "--emit",
                "asm",
            ])
            .args(["-C", "target-cpu=x86-64", "exps.rs", "-o", "exps.s"])
            .current_dir(&dir),
        "rustc on the exp loop",
    );
    let asm = std::fs::read_to_string(dir.join("exps.s")).unwrap();
    let body: String = asm
        .split("exps:")
        .nth(1)
        .expect("the function in the assembly")
        .lines()
        .take_while(|l| !l.contains(".cfi_endproc"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(body.contains("mulpd"), "no packed multiply:\n{body}");
    assert!(!body.contains("call"), "a call:\n{body}");
    std::fs::remove_dir_all(&dir).ok();
}

/// clippy-driver with `-D warnings` on the library crate root `lib` in `dir`.
fn clippy_lib(dir: &Path, name: &str, lib: &str) {
    run(
        Command::new("clippy-driver")
            .args(["--edition", "2021", "-D", "warnings", "--crate-type", "lib"])
            .args(["--crate-name", name, "--emit", "metadata", "-o"])
            .arg(dir.join(format!("{name}.rmeta")))
            .arg(lib)
            .current_dir(dir),
        &format!("clippy on {name}"),
    );
}
