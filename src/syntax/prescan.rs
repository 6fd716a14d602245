//! A lexical pass that bounds bracket nesting before pest, which recurses on it, runs.

use crate::diag::{Code, Diagnostic, Span};

/// The deepest nesting of `(` and `[` accepted. pest recurses on nesting, at
/// about 40 KiB of stack a level in a debug build: 64 levels stay far inside
/// the stack the front end runs on (`crate::STACK_SIZE`), and no hand-written
/// network comes near them.
pub const MAX_NESTING: usize = 64;

/// Reports the first bracket nested deeper than `MAX_NESTING`, skipping comments.
pub fn check_nesting(source: &str) -> Option<Diagnostic> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            Code::TooDeep,
                            Span::new(i, i + 1),
                            format!("brackets are nested more than {MAX_NESTING} deep"),
                        )
                        .label("too deep")
                        .help("split the expression into several definitions"),
                    );
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}
