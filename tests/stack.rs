//! The compiler's stack: the command line runs under a cap on its address
//! space (`prlimit --as`, as a build server or a container may set) without
//! a panic or a hang, and the deepest programs the front end accepts go
//! through every stage on threads with small stacks, where
//! `netgrad::on_own_stack` moves them to a stack of its own.

mod common;

use std::time::Duration;

/// The cap of issue 13: the stages once mapped two 64 MiB stacks, nested,
/// and panicked under it (and hung with RUST_BACKTRACE=1).
const CAP: u64 = 150_000_000;

/// Runs the binary under the cap, with backtraces on (a panic then used to
/// hang); returns its exit code and standard error.
fn capped(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String) {
    match common::capped::run(CAP, args, dir, true, Duration::from_secs(60)) {
        Some((status, stderr)) => (status.code(), stderr),
        None => panic!("netgrad {} hangs under the cap", args.join(" ")),
    }
}

#[test]
fn every_command_runs_under_an_address_space_cap() {
    if !common::capped::prlimit_works() {
        eprintln!("skipped: prlimit (util-linux) is not available");
        return;
    }
    let dir = std::env::temp_dir().join(format!("netgrad-stack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xor =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/xor.net")).unwrap();
    let tower = format!("param w\nloss E = {}\n", ["sigmoid(w)"; 255].join("^"));
    let parens = format!(
        "param w\nloss E = {}w{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let files = [
        ("xor.net", xor, 0),
        ("tower.net", tower, 0),
        ("parens.net", parens, 1),
    ];
    for (name, text, code) in &files {
        std::fs::write(dir.join(name), text).unwrap();
        for command in ["check", "explain", "compile", "graph"] {
            let (got, stderr) = capped(&[command, name], &dir);
            assert!(
                !stderr.contains("panicked") && !stderr.contains("overflow"),
                "netgrad {command} {name}: {stderr}"
            );
            assert_eq!(got, Some(*code), "netgrad {command} {name}: {stderr}");
            if *code == 1 {
                assert!(stderr.contains("error[E0003]"), "{stderr}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The deepest programs: each chain at the depth limit, the tallest tower,
/// and brackets at the nesting limit.
fn deepest() -> Vec<String> {
    // A call is a level of its own: chains of calls are one shorter.
    let depth = netgrad::syntax::MAX_DEPTH - 1;
    let nesting = netgrad::syntax::MAX_NESTING - 1;
    let mut programs: Vec<String> = [" + ", " * ", " / ", " - "]
        .iter()
        .map(|op| format!("param w\nloss E = {}\n", vec!["sigmoid(w)"; depth].join(op)))
        .collect();
    programs.push(format!(
        "param w\nloss E = {}\n",
        vec!["sigmoid(w)"; depth].join("^")
    ));
    programs.push(format!(
        "param w\nloss E = {}w{}\n",
        "max(w, tanh(".repeat(nesting / 2),
        "))".repeat(nesting / 2)
    ));
    programs.push(format!(
        "dim N = 2\nparam v[N]\nloss E = {}v[i]{}\n",
        "sum(i, sin(".to_string() + &"exp(".repeat(nesting - 2),
        ")".repeat(nesting - 2) + "))"
    ));
    programs
}

/// Every stage on a thread with a 256 KiB stack: each moves to a stack of
/// its own, so none overflows.
#[test]
fn the_deepest_programs_run_on_small_threads() {
    for text in deepest() {
        let handle = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let dag = netgrad::front_end(&text).unwrap_or_else(|d| {
                    panic!("{text}: {}", netgrad::diag::render("f", &text, &d))
                });
                let _ = netgrad::summary::summary(&dag);
                let _ = netgrad::dot::dot(&dag, "f");
                let (g, _) = netgrad::derive(dag, &[], true).expect("every param");
                let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
                let _ = netgrad::eval::run(&g.dag.program, &given);
                let _ = netgrad::gradcheck::check(&g, &given, 1);
                let _ = netgrad::explain::explain_with_steps(
                    &g,
                    &text,
                    netgrad::explain::Format::Latex,
                );
                let options = netgrad::codegen::Options {
                    float: netgrad::Float::F64,
                    source: "f.net".into(),
                    share: true,
                    no_std: false,
                    features: Default::default(),
                    math: Default::default(),
                };
                netgrad::codegen::generate(&g, &options).expect("code");
            })
            .unwrap();
        handle.join().expect("no stage panics");
    }
}
