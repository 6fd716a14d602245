//! Inputs that must not break anything (issue 13, item 7 and the minor
//! ones): output over an input, output written in place, duplicate keys in
//! values.json, a tolerance that is not a positive number, a byte order mark,
//! names that LaTeX reads as markup, and paths that would leave a comment.

mod common;

use std::path::PathBuf;

use common::{netgrad, text};

const XOR: &str = "input x[2]\nparam w[2]\nloss E = sum(i, w[i] * x[i])^2\n";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netgrad-safety-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_output_over_its_input_is_refused() {
    let dir = temp_dir("over");
    let net = dir.join("x.net");
    std::fs::write(&net, XOR).unwrap();
    let same = dir.join("sub").join("..").join("x.net");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for command in ["compile", "graph", "values"] {
        for out in [&net, &same] {
            let o = netgrad(&[command, "-o", out.to_str().unwrap(), net.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(1), "{command}");
            assert!(
                text(&o.stderr).contains("is the input file"),
                "{command}: {}",
                text(&o.stderr)
            );
            assert_eq!(std::fs::read_to_string(&net).unwrap(), XOR, "{command}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_replaces_the_file_rather_than_writing_into_it() {
    let dir = temp_dir("atomic");
    let net = dir.join("x.net");
    std::fs::write(&net, XOR).unwrap();
    let out = dir.join("x.rs");
    std::fs::write(&out, "old").unwrap();
    // A hard link sees writes into the file, not a file renamed over it.
    let link = dir.join("link.rs");
    std::fs::hard_link(&out, &link).unwrap();
    let o = netgrad(&[
        "compile",
        "-o",
        out.to_str().unwrap(),
        net.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("@generated"));
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "old");
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["link.rs", "x.net", "x.rs"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duplicate_keys_in_values_are_an_error_naming_the_key() {
    let dag = netgrad::front_end(XOR).unwrap();
    let err = netgrad::values::parse(&dag.program, r#"{"x": [1, 2], "w": [3, 4], "x": [5, 6]}"#)
        .unwrap_err();
    assert!(err.contains("duplicate key `x`"), "{err}");
    let ok = netgrad::values::parse(&dag.program, r#"{"x": [1, 2], "w": [3, 4]}"#);
    assert!(ok.is_ok());
}

#[test]
fn the_tolerance_is_a_positive_finite_number() {
    for tol in ["NaN", "nan", "inf", "-1", "0", "x"] {
        let o = netgrad(&["check", &format!("--tol={tol}"), "examples/xor.net"]);
        assert_eq!(o.status.code(), Some(2), "--tol {tol}");
        assert!(text(&o.stderr).contains("--tol"), "{}", text(&o.stderr));
    }
    let o = netgrad(&["check", "--tol", "1e-3", "examples/xor.net"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_byte_order_mark_is_skipped_and_spans_stay_right() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(XOR.as_bytes());
    let text = netgrad::decode(bytes).expect("UTF-8 with a BOM");
    assert!(netgrad::front_end(&text).is_ok());

    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(b"param w\nloss E = w * v\n");
    let text = netgrad::decode(bytes).unwrap();
    let diags = netgrad::front_end(&text).unwrap_err();
    let rendered = netgrad::diag::render("f.net", &text, &diags);
    assert!(rendered.contains("--> f.net:2:14"), "{rendered}");
}

#[test]
fn latex_escapes_every_name() {
    let source = "dim N_1_2 = 3\ninput x_in[N_1_2]\nparam w_a[N_1_2]\n\
                  h_1[i_j] = tanh(w_a[i_j] * x_in[i_j])\nloss E_t = mean(k_1, h_1[k_1]^2)\n";
    let g = common::simplified(source);
    let latex = netgrad::explain::explain(&g, "f.net", netgrad::explain::Format::Latex);
    for line in latex.lines().filter(|l| !l.starts_with('%')) {
        let bytes = line.as_bytes();
        for (k, b) in bytes.iter().enumerate() {
            // Every underscore of a name is escaped; `_{` is LaTeX's subscript.
            if *b == b'_' && k > 0 {
                assert!(
                    bytes[k - 1] == b'\\' || bytes.get(k + 1) == Some(&b'{'),
                    "unescaped _ in {line}"
                );
            }
        }
    }
    assert!(latex.contains("N\\_1\\_2"), "{latex}");
}

#[test]
fn no_path_leaves_a_comment() {
    let g = common::simplified(XOR);
    let evil = "x.net\nfn injected() {}\r\n*/ /* \u{2028}";
    let options = netgrad::codegen::Options {
        float: netgrad::Float::F64,
        source: evil.into(),
        share: true,
        no_std: false,
        features: Default::default(),
        math: Default::default(),
    };
    let code = netgrad::codegen::generate(&g, &options).unwrap();
    let first = code.lines().next().unwrap();
    assert!(first.starts_with("// @generated by netgrad from x.net\\u{a}fn injected"));
    assert!(!code.lines().any(|l| l.starts_with("fn injected")));
    assert!(!code.contains("*/ /*"));
    let latex = netgrad::explain::explain(&g, evil, netgrad::explain::Format::Latex);
    assert!(
        !latex.lines().any(|l| l.starts_with("fn injected")),
        "{latex}"
    );
    assert!(latex.starts_with("% @generated by netgrad explain from x.net\\u{a}fn"));
}

/// Issue 13, item 6: `1e300_f32` is not Rust; a constant beyond f32's range
/// is an error naming the constant, and nothing is written.
#[test]
fn an_f32_module_never_holds_a_constant_beyond_f32() {
    let dir = temp_dir("f32-range");
    let net = dir.join("big.net");
    for (formula, constant) in [("w * 1e300", "1e300"), ("w * (1e30 * 1e30)", "e60")] {
        std::fs::write(&net, format!("param w\nloss E = {formula}\n")).unwrap();
        let out_rs = dir.join("big.rs");
        let out = netgrad(&[
            "compile",
            net.to_str().unwrap(),
            "--float",
            "f32",
            "-o",
            out_rs.to_str().unwrap(),
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{formula}: {err}");
        assert!(err.contains("beyond the range of f32"), "{err}");
        assert!(err.contains(constant), "{err}");
        assert!(!out_rs.exists(), "{formula}: a module was written");
        // The same file in f64, and a constant f32 can hold, compile.
        let out = netgrad(&["compile", net.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    std::fs::write(&net, "param w\nloss E = w * 3e38\n").unwrap();
    let out = netgrad(&["compile", net.to_str().unwrap(), "--float", "f32"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3e38_f32"));
    std::fs::remove_dir_all(&dir).unwrap();
}
