//! Compiles every example, and nets/wide.net (which needs scratch), for
//! `#![no_std]` in f64 and in f32 through `netgrad::Builder`, and writes a
//! table of their flat functions for the tests to iterate over.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut nets: Vec<(String, PathBuf)> = Vec::new();
    for dir in ["../../examples", "nets"] {
        println!("cargo:rerun-if-changed={dir}");
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            // A file with run-time dims does not compile for no_std yet.
            if path.extension().is_some_and(|e| e == "net") && fixed_size(&path) {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                nets.push((stem, path));
            }
        }
    }
    nets.sort();
    let mut table = String::new();
    for (float, suffix) in [(netgrad::Float::F64, ""), (netgrad::Float::F32, "_f32")] {
        for (net, path) in &nets {
            let module = format!("{net}{suffix}");
            netgrad::Builder::new()
                .float(float)
                .no_std(true)
                .module_name(&module)
                .compile(path)?;
            writeln!(
                table,
                "pub mod {module} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/{module}.rs\"));\n}}"
            )?;
        }
    }
    for (suffix, real) in [("", "F64"), ("_f32", "F32")] {
        writeln!(
            table,
            "pub const {real}: &[Net<{}>] = &[",
            real.to_lowercase()
        )?;
        for (net, path) in &nets {
            let m = format!("{net}{suffix}");
            writeln!(
                table,
                "    Net {{ name: \"{net}\", path: \"{}\", n_inputs: {m}::N_INPUTS, n_params: {m}::N_PARAMS, n_outputs: {m}::N_OUTPUTS, scratch_len: {m}::SCRATCH_LEN, loss_flat: {m}::loss_flat, gradient_flat: {m}::gradient_flat, forward_flat: {m}::forward_flat }},",
                path.display()
            )?;
        }
        writeln!(table, "];")?;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("nets.rs"), table)?;
    Ok(())
}

/// Whether a file has no run-time dims (`dim N` without a size).
fn fixed_size(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(path).expect("a readable example");
    netgrad::front_end(&text).is_ok_and(|dag| dag.program.runtime_dims().next().is_none())
}
