//! Every link in the repository's Markdown resolves inside the repository:
//! relative paths name files that exist, and `#anchors` name headings.

mod common;

use std::path::{Path, PathBuf};

/// The Markdown files of the repository, outside target/ and hidden folders.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            markdown_files(&path, out);
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The targets of inline links `[text](target)`, outside code spans and blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        // Drop code spans, where `](` is not a link.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect();
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_block = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_markdown_link_resolves_inside_the_repository() {
    let root = common::root();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(files.len() >= 5, "found only {files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for target in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let inside = resolved
                .canonicalize()
                .is_ok_and(|p| p.starts_with(root.canonicalize().unwrap()));
            if !inside {
                broken.push(format!("{}: {target}", common::relative(file)));
                continue;
            }
            if !fragment.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
                let heads = anchors(&std::fs::read_to_string(&resolved).unwrap());
                if !heads.iter().any(|h| h == fragment) {
                    broken.push(format!(
                        "{}: {target} (no such heading)",
                        common::relative(file)
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Every `NAME.md` a document mentions, linked or not, is a file of the
/// repository: a reader must be able to open what the text refers to.
#[test]
fn every_markdown_file_named_in_prose_exists() {
    let root = common::root();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for word in text.split(|c: char| !(c.is_alphanumeric() || "._/-".contains(c))) {
            let word = word.trim_end_matches('.');
            if !word.ends_with(".md") || word.contains("://") {
                continue;
            }
            let base = word.rsplit('/').next().unwrap();
            if !names.iter().any(|n| n == base) {
                missing.push(format!("{}: {word}", common::relative(file)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documents not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_link_reader_finds_links_and_skips_code() {
    let text = "see [a](docs/a.md) and `[b](c)`\n```\n[d](e)\n```\n[f](#g-h)";
    assert_eq!(links(text), ["docs/a.md", "#g-h"]);
    assert_eq!(anchor("The pipeline, in short"), "the-pipeline-in-short");
}
