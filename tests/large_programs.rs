//! Large valid programs of every shape the issue-13 audit found expensive
//! (deep chains, wide sums, heavy fan-out, many definitions, long products,
//! power towers, a deep network of matrices) go through every command of the
//! binary under a memory cap (`prlimit --as`) and a time guard, and each
//! command must succeed. benches/scaling/bench.sh generates the same shapes
//! (keep the two in step) and measures growth at 1x, 4x and 16x.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

/// The address space each command may use: the binary, its libraries and
/// its heap. The largest program here peaks below 100 MB of it.
const MEMORY_CAP: u64 = 512 << 20;
/// The time each command may take (a debug-profile binary on a shared machine).
const TIME_GUARD: Duration = Duration::from_secs(20);

/// A program of one shape at `scale` (1x, 4x, 16x in the benchmark).
pub fn program(kind: &str, scale: usize) -> String {
    let mut t = String::new();
    match kind {
        // A chain of definitions, each reading the one before.
        "chain" => {
            let n = 100 * scale;
            t += "param w\ninput x\nh0 = w\n";
            for i in 1..n {
                t += &format!("h{i} = sin(h{}) * x + w\n", i - 1);
            }
            t += &format!("loss E = h{}\n", n - 1);
        }
        // One sum of many distinct terms.
        "wide" => {
            let n = 15 * scale;
            let terms: Vec<String> = (1..=n).map(|k| format!("sin(w * {k})")).collect();
            t += &format!("param w\nloss E = {}\n", terms.join(" + "));
        }
        // One value read by many definitions (a long adjoint sum).
        "fan" => {
            let n = 50 * scale;
            t += "param w\nh0 = w\n";
            for i in 1..n {
                t += &format!("h{i} = tanh(h{}) + w\n", i - 1);
            }
            t += &format!("loss E = h{}\n", n - 1);
        }
        // Many tensor definitions.
        "defs" => {
            let n = 50 * scale;
            t += "dim N = 4\nparam w[N]\ninput x[N]\na0[i] = w[i] * x[i]\n";
            for d in 1..n {
                t += &format!("a{d}[i] = tanh(a{}[i]) * w[i] + x[i] * {d}\n", d - 1);
            }
            t += &format!("loss E = sum(i, a{}[i]^2)\n", n - 1);
        }
        // A product of many factors.
        "prod" => {
            let n = 15 * scale;
            let factors: Vec<String> = (1..=n).map(|k| format!("(1 + w / {k})")).collect();
            t += &format!("param w\nloss E = {}\n", factors.join(" * "));
        }
        // A tower of powers.
        "pow" => {
            let n = 15 * scale;
            t += &format!("param w\nloss E = {}\n", ["sigmoid(w)"; 240][..n].join("^"));
        }
        // A deep network of 8x8 layers, each with its own weights.
        "mlp" => {
            let n = 4 * scale;
            t += "dim D = 8\ninput x[D]\nh0[j] = x[j]\n";
            for l in 1..=n {
                t += &format!(
                    "param W{l}[D, D]\nh{l}[j] = tanh(sum(k, W{l}[j, k] * h{}[k]))\n",
                    l - 1
                );
            }
            t += &format!("loss E = sum(j, h{n}[j]^2)\n");
        }
        _ => panic!("unknown kind {kind}"),
    }
    t
}

pub const KINDS: [&str; 7] = ["chain", "wide", "fan", "defs", "prod", "pow", "mlp"];

/// Runs the binary under the cap and the guard; returns its standard error,
/// or why it failed.
fn run(args: &[&str], dir: &Path) -> Result<String, String> {
    let Some((status, stderr)) = common::capped::run(MEMORY_CAP, args, dir, false, TIME_GUARD)
    else {
        return Err(format!("took more than {TIME_GUARD:?}"));
    };
    if !status.success() || stderr.contains("panicked") {
        return Err(format!("{status}: {stderr}"));
    }
    Ok(stderr)
}

#[test]
fn every_command_on_large_programs() {
    if !common::capped::prlimit_works() {
        eprintln!("skipped: prlimit (util-linux) is not available");
        return;
    }
    let dir = std::env::temp_dir().join(format!("netgrad-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for kind in KINDS {
        let file = format!("{kind}.net");
        // Single expressions at the largest size of the benchmark (16x: 240
        // terms, near the depth limit), the others at 4x, to keep the test short.
        let scale = if matches!(kind, "wide" | "prod" | "pow") {
            16
        } else {
            4
        };
        std::fs::write(dir.join(&file), program(kind, scale)).unwrap();
        let values = format!("{kind}.values.json");
        let out = format!("{kind}.rs");
        let commands: [&[&str]; 6] = [
            &["check", &file],
            &["values", &file, "-o", &values],
            &["eval", &file, "--values", &values],
            &["explain", &file],
            &["compile", &file, "-o", &out],
            &["graph", &file],
        ];
        for args in commands {
            let start = Instant::now();
            match run(args, &dir) {
                Ok(_) => eprintln!("{kind}: {} in {:?}", args[0], start.elapsed()),
                Err(why) => failures.push(format!("{kind}: netgrad {}: {why}", args.join(" "))),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
