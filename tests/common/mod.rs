//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod capped;
pub mod random;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `netgrad` binary in the repository root.
pub fn netgrad(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_netgrad"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

/// Program output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The path of `p` relative to the repository root, with `/` separators,
/// as diagnostics and snapshots show it.
pub fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Runs the front end on a file's bytes, as `netgrad check` does, and returns
/// either the DAG or the rendered diagnostics.
pub fn check_bytes(name: &str, bytes: Vec<u8>) -> Result<netgrad::graph::Dag, String> {
    match netgrad::decode(bytes) {
        Ok(text) => netgrad::front_end(&text).map_err(|d| netgrad::diag::render(name, &text, &d)),
        Err(e) => Err(netgrad::diag::render(name, &e.lossy, &[e.diagnostic])),
    }
}

/// The sorted `.net` files of a folder.
pub fn net_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .expect("folder exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    files
}

/// The gradient of a program's loss with respect to every param.
pub fn gradient(text: &str) -> netgrad::autodiff::Gradient {
    let dag = netgrad::front_end(text)
        .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", text, &d)));
    let wrt = netgrad::autodiff::resolve_wrt(&dag.program, &[]).unwrap();
    netgrad::autodiff::differentiate(dag, &wrt)
}

/// The gradient as the commands give it: differentiated, then simplified.
pub fn simplified(text: &str) -> netgrad::autodiff::Gradient {
    netgrad::simplify::gradient(gradient(text)).0
}

/// The worst relative error of the gradient of `text` (simplified or not)
/// against central differences, over seeds 1 to 3, as `netgrad check`
/// measures it.
pub fn worst_check(text: &str, simplified: bool) -> f64 {
    let g = if simplified {
        self::simplified(text)
    } else {
        gradient(text)
    };
    let mut worst: f64 = 0.0;
    for seed in 1..=3 {
        let given = netgrad::gradcheck::random_values(&g.dag.program, seed);
        for c in netgrad::gradcheck::check(&g, &given, seed) {
            worst = worst.max(c.worst);
        }
    }
    worst
}

/// `f` over `items` on two threads (the machine has two cores), in order.
pub fn on_two_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let half = items.len().div_ceil(2).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(half)
            .map(|chunk| s.spawn(|| chunk.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// The gradient of `text` with respect to `wrt`, unsimplified; a file with
/// errors panics with its diagnostics.
pub fn gradient_wrt(text: &str, wrt: &[&str]) -> netgrad::autodiff::Gradient {
    let dag = netgrad::front_end(text)
        .unwrap_or_else(|d| panic!("{}", netgrad::diag::render("t.net", text, &d)));
    let names: Vec<String> = wrt.iter().map(|s| s.to_string()).collect();
    let ids = netgrad::autodiff::resolve_wrt(&dag.program, &names).unwrap();
    netgrad::autodiff::differentiate(dag, &ids)
}

/// Every given value, by name, in a gradient's value table.
pub fn given_by_name(
    g: &netgrad::autodiff::Gradient,
    values: &[(&str, &[f64])],
) -> Vec<Option<Vec<f64>>> {
    let p = &g.dag.program;
    let mut given = vec![None; p.values.len()];
    for (name, x) in values {
        let id = p.ids().find(|v| p.value(*v).name == *name).unwrap();
        given[id.index()] = Some(x.to_vec());
    }
    given
}

/// The loss and the gradient of each wrt value, by the interpreter.
pub fn loss_and_gradients(
    g: &netgrad::autodiff::Gradient,
    given: &[Option<Vec<f64>>],
) -> (f64, Vec<Vec<f64>>) {
    let data = netgrad::eval::run(&g.dag.program, given);
    let loss = data[g.dag.program.loss.index()][0];
    let grads = g.wrt.iter().map(|(_, a)| data[a.index()].clone()).collect();
    (loss, grads)
}

/// Whether a file declares a run-time dim (`dim N` without a size): its
/// module takes `Dims` (tests/runtime_codegen.rs), and has no `N_INPUTS`.
pub fn has_runtime_dims(text: &str) -> bool {
    netgrad::front_end(text).is_ok_and(|dag| dag.program.runtime_dims().next().is_some())
}
