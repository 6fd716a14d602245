//! Every snapshot belongs to an existing input, and none is pending review.

mod common;

#[test]
fn no_unreferenced_or_pending_snapshots() {
    let dir = common::root().join("tests/snapshots");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".snap.new") && !name.ends_with(".pending-snap"),
            "pending snapshot {name}: review it"
        );
        let Some(stem) = name.strip_suffix(".snap") else {
            continue;
        };
        // Glob snapshots are named `<test file>__<name>@<input file>`.
        let (test, input) = stem
            .split_once('@')
            .unwrap_or_else(|| panic!("{name} is not a glob snapshot"));
        let folder = if test.starts_with("diagnostics__") {
            "tests/fail"
        } else {
            "examples"
        };
        assert!(
            common::root().join(folder).join(input).exists(),
            "{name} has no input {folder}/{input}: delete it"
        );
    }
}
