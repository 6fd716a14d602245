//! What `cargo package` would publish: netgrad alone, with its licences, and
//! without a warning. (`.ci/run` also runs `cargo publish --dry-run`.)

mod common;

#[test]
fn the_package_lists_cleanly_with_its_licences() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(common::root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("warning"),
        "cargo package warns:\n{stderr}"
    );
    let files = String::from_utf8_lossy(&out.stdout);
    let files: Vec<&str> = files.lines().collect();
    for needed in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "README.md",
        "grammar/net.pest",
        "src/main.rs",
        "examples/bishop.net",
    ] {
        assert!(files.contains(&needed), "{needed} is not packaged");
    }
    // Only netgrad is packaged: the workspace's other members are not.
    assert!(
        !files.iter().any(|f| f.starts_with("benches/")),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.starts_with("target/")));
}

#[test]
fn both_licences_are_there_and_named_in_the_manifest() {
    let root = common::root();
    let mit = std::fs::read_to_string(root.join("LICENSE-MIT")).unwrap();
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = std::fs::read_to_string(root.join("LICENSE-APACHE")).unwrap();
    assert!(apache.contains("Apache License") && apache.contains("Version 2.0"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#"license = "MIT OR Apache-2.0""#));
}
