//! Every example checks, and its summary and DOT match their snapshots.

mod common;

#[test]
fn examples_check_and_match_their_snapshots() {
    insta::glob!("../examples", "*.net", |path| {
        let name = common::relative(path);
        let dag = match common::check_bytes(&name, std::fs::read(path).unwrap()) {
            Ok(dag) => dag,
            Err(d) => panic!("{name} has errors:\n{d}"),
        };
        insta::assert_snapshot!("summary", netgrad::summary::summary(&dag));
        let stem = path.file_stem().unwrap().to_string_lossy();
        insta::assert_snapshot!("dot", netgrad::dot::dot(&dag, &stem));
    });
}

#[test]
fn output_is_identical_from_run_to_run() {
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let outputs: Vec<(String, String)> = (0..3)
            .map(|_| {
                let dag = netgrad::front_end(&text).unwrap();
                (
                    netgrad::summary::summary(&dag),
                    netgrad::dot::dot(&dag, "n"),
                )
            })
            .collect();
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{} differs between runs",
            path.display()
        );
    }
}

#[test]
fn there_are_the_eight_examples_of_the_issue() {
    let names: Vec<String> = common::net_files("examples")
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into())
        .collect();
    for want in [
        "batch_mlp",
        "bishop",
        "fanout",
        "mlp_mnist",
        "softmax_regression",
        "tied_autoencoder",
        "weight_decay",
        "xor",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "examples/{want}.net is missing"
        );
    }
}
