//! No input crashes the front end: every byte-prefix of every example,
//! mutated examples, deep nesting and megabyte lines all end in a result or
//! in diagnostics that render. Runs on the test harness's 2 MiB threads, so a
//! recursion that is not bounded overflows here first.

mod common;

use netgrad::syntax::{MAX_DEPTH, MAX_NESTING};

/// Checks a text and renders what it reports, as the CLI would.
fn survive(text: &str) -> bool {
    match netgrad::front_end(text) {
        Ok(dag) => {
            let _ = netgrad::summary::summary(&dag);
            let _ = netgrad::dot::dot(&dag, "n");
            true
        }
        Err(diags) => {
            assert!(
                !diags.is_empty(),
                "an error without a diagnostic for {text:?}"
            );
            let rendered = netgrad::diag::render("f.net", text, &diags);
            assert!(rendered.contains("error["), "nothing rendered for {text:?}");
            false
        }
    }
}

#[test]
fn every_prefix_of_every_example() {
    for path in common::net_files("examples") {
        let bytes = std::fs::read(&path).unwrap();
        for end in 0..=bytes.len() {
            // Prefixes that cut a UTF-8 character go through `decode`.
            match netgrad::decode(bytes[..end].to_vec()) {
                Ok(text) => {
                    survive(&text);
                }
                Err(e) => {
                    netgrad::diag::render("f.net", &e.lossy, &[e.diagnostic]);
                }
            }
        }
    }
}

#[test]
fn mutated_examples() {
    // A fixed linear congruential generator: the same mutations every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let alphabet = b"()[],;=+-*^/# \n0123456789.eijkxyzwDsumaxloginE<>";
    for path in common::net_files("examples") {
        let original = std::fs::read_to_string(&path).unwrap().into_bytes();
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = next() % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = alphabet[next() % alphabet.len()],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[next() % alphabet.len()]),
                }
            }
            // A mutation may cut a character of the examples' non-ASCII comments.
            match netgrad::decode(bytes) {
                Ok(text) => {
                    survive(&text);
                }
                Err(e) => {
                    netgrad::diag::render("f.net", &e.lossy, &[e.diagnostic]);
                }
            }
        }
    }
}

#[test]
fn deeply_nested_parentheses_get_a_diagnostic() {
    for depth in [MAX_NESTING, MAX_NESTING + 1, 100_000] {
        let text = format!(
            "param w\nloss E = {}w{}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let ok = survive(&text);
        assert_eq!(ok, depth <= MAX_NESTING, "depth {depth}");
    }
}

#[test]
fn deeply_nested_calls_and_subscripts_get_a_diagnostic() {
    let calls = format!(
        "param w\nloss E = {}w{}\n",
        "exp(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(!survive(&calls));
    let subs = format!(
        "dim D = 2\nparam x[D]\nloss E = {}0{}\n",
        "x[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(!survive(&subs));
}

#[test]
fn long_chains_get_a_diagnostic() {
    for (op, n) in [(" + ", 300_000), (" * ", 300_000), ("^", 300_000)] {
        let text = format!("param w\nloss E = {}\n", vec!["w"; n].join(op));
        assert!(!survive(&text), "a chain of {n} `{op}`");
    }
    let negs = format!("param w\nloss E = {}w\n", "-".repeat(300_000));
    assert!(!survive(&negs));
    // At the limit, a chain is accepted.
    let fits = format!("param w\nloss E = {}\n", vec!["w"; MAX_DEPTH].join(" + "));
    assert!(survive(&fits));
}

#[test]
fn a_one_megabyte_line() {
    let comment = format!("# {}\nparam w\nloss E = w\n", "x".repeat(1 << 20));
    assert!(survive(&comment));
    let statements = format!("param w\n{}loss E = w\n", "a = w; ".repeat((1 << 20) / 7));
    // Duplicate definitions: many diagnostics, reported without a crash.
    assert!(!survive(&statements));
    let garbage = "@".repeat(1 << 20);
    assert!(!survive(&garbage));
}

#[test]
fn the_diagnostic_for_a_long_line_does_not_echo_it() {
    let text = format!("param w\nloss E = {}\n", vec!["w"; 100_000].join(" + "));
    let diags = netgrad::front_end(&text).unwrap_err();
    let rendered = netgrad::diag::render("f.net", &text, &diags);
    assert!(rendered.len() < 1000, "{} bytes rendered", rendered.len());
    assert!(rendered.contains("--> f.net:2:"), "{rendered}");
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let e = netgrad::decode(b"param w\nloss E = w \xff\xfe\n".to_vec()).unwrap_err();
    let rendered = netgrad::diag::render("f.net", &e.lossy, &[e.diagnostic]);
    assert!(rendered.contains("error[E0002]"), "{rendered}");
    assert!(rendered.contains("--> f.net:2:12"), "{rendered}");
}

/// The deepest expressions the front end accepts go through autodiff, the
/// interpreter, the gradient check and explain on a 2 MiB test thread.
#[test]
fn the_deepest_programs_differentiate_evaluate_and_explain() {
    let chain = format!("param w\nloss E = {}\n", vec!["w"; MAX_DEPTH].join(" * "));
    let nested = format!(
        "param w\nloss E = {}w{}\n",
        "tanh(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    let power = format!("param w\nloss E = {}\n", vec!["w"; 40].join("^"));
    for src in [chain, nested, power] {
        let g = common::gradient(&src);
        let given = netgrad::gradcheck::random_values(&g.dag.program, 1);
        let data = netgrad::eval::run(&g.dag.program, &given);
        assert!(!data.is_empty());
        for format in [
            netgrad::explain::Format::Text,
            netgrad::explain::Format::Latex,
        ] {
            assert!(!netgrad::explain::explain(&g, "f.net", format).is_empty());
        }
        let _ = netgrad::gradcheck::check(&g, &given, 1);
    }
}
