//! The LaTeX of `netgrad explain` compiles: each example's fragment, put in a
//! minimal document, goes through pdflatex without an error.
//!
//! Needs pdflatex (Debian: texlive-latex-base, texlive-fonts-recommended), so
//! it is ignored by a plain `cargo test`; `.ci/run` installs TeX and runs it
//! with `cargo test --test latex -- --ignored`.

mod common;

use std::process::Command;

#[test]
#[ignore = "needs pdflatex; run by .ci/run"]
fn every_example_explanation_compiles_with_pdflatex() {
    let dir = std::env::temp_dir().join(format!("netgrad-latex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for path in common::net_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        let g = common::simplified(&text);
        // With the rewrite steps: the richer of the two LaTeX outputs.
        let fragment = netgrad::explain::explain_with_steps(
            &g,
            &common::relative(&path),
            netgrad::explain::Format::Latex,
        );
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        std::fs::write(dir.join(format!("{stem}.tex")), &fragment).unwrap();
        let doc = format!("\\documentclass{{article}}\n\\usepackage{{amsmath,amssymb}}\n\\begin{{document}}\n\\input{{{stem}.tex}}\n\\end{{document}}\n");
        std::fs::write(dir.join(format!("{stem}-doc.tex")), doc).unwrap();
        let out = Command::new("pdflatex")
            .args([
                "-interaction=nonstopmode",
                "-halt-on-error",
                &format!("{stem}-doc.tex"),
            ])
            .current_dir(&dir)
            .output()
            .expect("pdflatex runs (install texlive-latex-base)");
        assert!(
            out.status.success(),
            "{stem}: pdflatex failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(dir.join(format!("{stem}-doc.pdf")).exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
