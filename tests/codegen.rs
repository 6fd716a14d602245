//! The generated Rust of every example, in f64 and f32: rustfmt finds nothing
//! to change, it compiles under `#![deny(warnings)]` and clippy's default
//! lints, and `loss_flat` and `gradient_flat` agree with the interpreter.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use netgrad::codegen::{generate, Float, Options};

/// The harness: reads f64 values (inputs then params) from the file named by
/// its argument, prints the loss twice and the gradient, one number a line.
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
    let loss = net::loss_flat(inputs, params);
    let again = net::gradient_flat(inputs, params, &mut grad);
    println!("{loss:e}");
    println!("{again:e}");
    for g in grad {
        println!("{g:e}");
    }
}
"#;

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

/// Checks one example in one float type; returns the worst relative gradient error.
fn check_example(path: &Path, float: Float, dir: &Path) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    check_source(&common::relative(path), &text, float, dir)
}

/// Checks the code generated for a program; returns the worst relative gradient error.
fn check_source(name: &str, text: &str, float: Float, dir: &Path) -> f64 {
    let path = Path::new(name);
    let g = common::simplified(text);
    let options = Options {
        float,
        source: name.to_string(),
        share: true,
    };
    let code = generate(&g, &options).unwrap();
    let real = if float == Float::F64 { "f64" } else { "f32" };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("net.rs"), &code).unwrap();
    std::fs::write(dir.join("main.rs"), HARNESS.replace("REAL", real)).unwrap();

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
        &format!("rustfmt --check on {} ({real})", path.display()),
    );
    run(
        Command::new("clippy-driver")
            .args([
                "--edition",
                "2021",
                "-D",
                "warnings",
                "--emit",
                "metadata",
                "-o",
                "clippy.rmeta",
                "main.rs",
            ])
            .current_dir(dir),
        &format!("clippy on {} ({real})", path.display()),
    );
    run(
        Command::new("rustc")
            .args([
                "--edition",
                "2021",
                "-O",
                "-D",
                "warnings",
                "main.rs",
                "-o",
                "harness",
            ])
            .current_dir(dir),
        &format!("rustc on {} ({real})", path.display()),
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
    let out = run(
        Command::new(dir.join("harness"))
            .arg("values.bin")
            .current_dir(dir),
        "the harness",
    );
    let numbers: Vec<f64> = out.lines().map(|l| l.parse().unwrap()).collect();

    let data = netgrad::eval::run(p, &given);
    let mut want = vec![data[p.loss.index()][0], data[p.loss.index()][0]];
    for (_, adj) in &g.wrt {
        want.extend(&data[adj.index()]);
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

#[test]
fn generated_code_is_clean_and_agrees_with_the_interpreter() {
    let files = common::net_files("examples");
    // Two at a time: rustc dominates, and the machine has two cores.
    let results = common::on_two_threads(&files, |path| {
        let f64_err = check_example(path, Float::F64, &dir_for(path, Float::F64));
        let f32_err = check_example(path, Float::F32, &dir_for(path, Float::F32));
        (path.display().to_string(), f64_err, f32_err)
    });
    for (name, f64_err, f32_err) in &results {
        eprintln!("{name}: f64 {f64_err:e}, f32 {f32_err:e}");
        assert!(*f64_err <= 1e-10, "{name}: f64 gradient off by {f64_err:e}");
        assert!(*f32_err <= 1e-4, "{name}: f32 gradient off by {f32_err:e}");
    }
    for path in &files {
        for float in [Float::F64, Float::F32] {
            let _ = std::fs::remove_dir_all(dir_for(path, float));
        }
    }
}

#[test]
fn generated_code_matches_its_snapshot_and_is_deterministic() {
    insta::glob!("../examples", "*.net", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let make = || {
            let g = common::simplified(&text);
            let options = Options {
                float: Float::F64,
                source: common::relative(path),
                share: true,
            };
            generate(&g, &options).unwrap()
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
        let err = check_source(&format!("random{seed}.net"), &src, Float::F64, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        (seed, err)
    });
    for (seed, err) in worst {
        assert!(
            err <= 1e-10,
            "random program {seed}: gradient off by {err:e}"
        );
    }
}
