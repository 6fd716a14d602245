//! Every wrong file under tests/fail/ gives the diagnostics in its snapshot,
//! and together they cover every error code.

mod common;

use std::collections::BTreeSet;

use netgrad::diag::Code;

#[test]
fn wrong_files_render_their_diagnostics() {
    insta::glob!("fail/*.net", |path| {
        let name = common::relative(path);
        let bytes = std::fs::read(path).expect("readable test file");
        let rendered = match common::check_bytes(&name, bytes) {
            Ok(_) => panic!("{name} should not check"),
            Err(r) => r,
        };
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn each_wrong_file_reports_the_code_in_its_name_with_a_location() {
    for path in common::net_files("tests/fail") {
        let name = common::relative(&path);
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let code = &stem[..5];
        let rendered = common::check_bytes(&name, std::fs::read(&path).unwrap())
            .err()
            .unwrap_or_default();
        assert!(
            rendered.contains(&format!("error[{code}]")),
            "{name} does not report {code}:\n{rendered}"
        );
        assert!(
            rendered.contains(&format!("--> {name}:")),
            "{name}: no file:line:col:\n{rendered}"
        );
    }
}

/// The number of errors the front end reports for a file's bytes.
fn error_count(bytes: Vec<u8>) -> usize {
    match netgrad::decode(bytes) {
        Ok(text) => netgrad::front_end(&text)
            .err()
            .unwrap_or_default()
            .iter()
            .filter(|d| d.is_error())
            .count(),
        Err(_) => 1,
    }
}

/// The `N` of a first line `# mistakes: N`.
fn stated_mistakes(bytes: &[u8]) -> Option<usize> {
    let first = bytes.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?.trim_end();
    first.strip_prefix("# mistakes: ")?.parse().ok()
}

/// One mistake gives one error: every wrong file states on its first line,
/// `# mistakes: N`, how many mistakes it was written with, and reports exactly
/// that many errors, no cascade and no mistake left unreported.
#[test]
fn each_wrong_file_reports_one_error_per_mistake() {
    let mut wrong = Vec::new();
    for path in common::net_files("tests/fail") {
        let name = common::relative(&path);
        let bytes = std::fs::read(&path).unwrap();
        let Some(stated) = stated_mistakes(&bytes) else {
            wrong.push(format!("{name}: no first line `# mistakes: N`"));
            continue;
        };
        let found = error_count(bytes);
        if found != stated {
            wrong.push(format!("{name}: {stated} mistakes but {found} errors"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_mistakes_header_is_required_and_read_exactly() {
    assert_eq!(stated_mistakes(b"# mistakes: 2\nparam w\n"), Some(2));
    assert_eq!(stated_mistakes(b"# two mistakes\nparam w\n"), None);
    assert_eq!(stated_mistakes(b"param w\n# mistakes: 1\n"), None);
    assert_eq!(error_count(b"param w\nloss E = tahn(w) + ww\n".to_vec()), 2);
}

#[test]
fn every_error_code_is_exercised_by_a_wrong_file() {
    let mut seen = BTreeSet::new();
    for path in common::net_files("tests/fail") {
        let rendered = common::check_bytes("f.net", std::fs::read(&path).unwrap())
            .err()
            .unwrap_or_default();
        for code in Code::ALL {
            if rendered.contains(&format!("error[{}]", code.as_str())) {
                seen.insert(code.as_str());
            }
        }
    }
    // E0500 is reported by `compile` (and the Builder), not by the front
    // end, so no file of tests/fail can show it:
    // `compile_reports_e0500_for_a_runtime_dim_without_std` below exercises
    // it. E0507 likewise (the commands that differentiate report it):
    // tests/recur.rs exercises it. A retired code is reported by nothing,
    // and no wrong file may show it.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !Code::RETIRED.contains(c))
        .map(|c| c.as_str())
        .filter(|c| {
            !seen.contains(c)
                && *c != Code::RuntimeDim.as_str()
                && *c != Code::RecurrenceDerivative.as_str()
        })
        .collect();
    assert!(missing.is_empty(), "no wrong file exercises {missing:?}");
    let retired: Vec<&str> = Code::RETIRED
        .iter()
        .map(|c| c.as_str())
        .filter(|c| seen.contains(c))
        .collect();
    assert!(
        retired.is_empty(),
        "retired codes still reported: {retired:?}"
    );
}

#[test]
fn every_error_code_is_documented() {
    let doc = std::fs::read_to_string(common::root().join("docs/language.md")).unwrap();
    for code in Code::ALL {
        assert!(
            doc.contains(&format!("`{}`", code.as_str())),
            "docs/language.md does not list {}",
            code.as_str()
        );
    }
}

#[test]
fn diagnostics_come_in_source_order() {
    let src = "dim D = 3\nparam w[D]\ny[i] = q[i]\nz = w\nloss E = sum(i, y[i]) + r\n";
    let diags = netgrad::front_end(src).err().unwrap();
    let starts: Vec<usize> = diags.iter().map(|d| d.primary_span().start).collect();
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
}

#[test]
fn an_unknown_wrt_name_gets_the_closest_input_or_param() {
    let dag = netgrad::front_end("param w\ninput x\nloss E = w * x\n").unwrap();
    let err = netgrad::autodiff::resolve_wrt(&dag.program, &["ww".into()]).unwrap_err();
    assert!(err.contains("did you mean `w`?"), "{err}");
    let err = netgrad::autodiff::resolve_wrt(&dag.program, &["zzz".into()]).unwrap_err();
    assert!(!err.contains("did you mean"), "{err}");
}

/// Generated code for run-time sizes without std is not supported yet:
/// `compile --no-std` and the Builder with `no_std` point at the `dim`
/// line with E0500 and write nothing; with std, both write the module.
#[test]
fn compile_reports_e0500_for_a_runtime_dim_without_std() {
    let dir = std::env::temp_dir().join(format!("netgrad-e0500-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let net = dir.join("batch.net");
    std::fs::write(
        &net,
        "dim N\ndim D = 2\ninput x[N, D]\nparam w[D]\nloss E = mean(n, sum(i, w[i] * x[n, i])^2)\n",
    )
    .unwrap();
    let out = dir.join("batch.rs");
    let run = common::netgrad(&[
        "compile",
        net.to_str().unwrap(),
        "--no-std",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = common::text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0500]: dim `N` is given at run time; generated code for run-time sizes without std (`--no-std`) is not supported yet"),
        "{stderr}"
    );
    assert!(stderr.contains(":1:5"), "points at the dim: {stderr}");
    assert!(!out.exists(), "nothing is written");
    let built = netgrad::Builder::new()
        .out_dir(&dir)
        .cargo_metadata(false)
        .no_std(true)
        .compile(&net);
    let message = built.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("error[E0500]"), "{message}");
    assert!(!dir.join("batch.rs").exists(), "the Builder writes nothing");
    // With std, both write the module, which takes `Dims`.
    let run = common::netgrad(&[
        "compile",
        net.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", common::text(&run.stderr));
    let code = std::fs::read_to_string(&out).unwrap();
    assert!(code.contains("pub struct Dims {"), "{code}");
    let built = netgrad::Builder::new()
        .out_dir(&dir)
        .cargo_metadata(false)
        .compile(&net)
        .unwrap();
    assert_eq!(std::fs::read_to_string(built).unwrap(), code);
    std::fs::remove_dir_all(&dir).ok();
}
