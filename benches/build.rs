//! Compiles every example (every `.net` file of examples/) with netgrad's
//! build-script API; `netgrad_benches::EXAMPLES` names the modules, and a
//! test checks that it names every file.

fn main() {
    let dir = std::path::Path::new("../examples");
    // A file added to or removed from the folder reruns this script.
    println!("cargo:rerun-if-changed=../examples");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .expect("the examples folder")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    for file in files {
        if let Err(e) = netgrad::Builder::new().compile(&file) {
            panic!("\n{e}");
        }
    }
}
