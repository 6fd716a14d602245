//! Syntax: `.net` text to an AST with byte spans, and syntax errors.

pub mod ast;
mod parse;
mod prescan;

pub use parse::{parse, MAX_DEPTH};
pub use prescan::MAX_NESTING;
