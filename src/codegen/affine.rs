//! Affine index forms: `Σ stride · index + constant` over loop variables,
//! the one way the loop-nest IR says where an access lands in a flat,
//! row-major tensor (`x[n * 784 + i]`), where a row slice starts, and
//! which value an unrolled copy of a loop variable takes (`i_block * 4 + 1`).
//!
//! Language version 2's affine subscripts (`x[i + k]`) are the same form
//! with more than one term per subscript; a run-time extent (`Dims`) will
//! make a stride a product of dims, which is why strides stay in their own
//! field rather than being folded into text early.

/// `terms[0].1 * terms[0].0 + ... + constant`, the terms in subscript
/// order (the printer keeps it: `n * 784 + i`, not `i + n * 784`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Affine {
    /// Loop variables (as the code names them) and their strides; a stride
    /// is negative only for an affine subscript (`x[N - 1 - i]`), whose
    /// value sema proved at least 0.
    pub(super) terms: Vec<(String, isize)>,
    /// The constant part: literal subscripts times their strides, or a
    /// negative offset (`i - 16`, a remainder loop's lane).
    pub(super) constant: isize,
}

impl Affine {
    /// One loop variable, stride 1.
    pub(super) fn var(name: &str) -> Affine {
        Affine {
            terms: vec![(name.to_string(), 1)],
            constant: 0,
        }
    }

    /// A constant.
    pub(super) fn constant(c: usize) -> Affine {
        Affine {
            terms: Vec::new(),
            constant: c as isize,
        }
    }
}

impl Affine {
    /// The form in signed arithmetic, for a value that may be negative:
    /// `p as isize - di as isize`.
    pub(super) fn signed(&self) -> String {
        let mut out = String::new();
        for (name, stride) in &self.terms {
            let mag = stride.unsigned_abs();
            let term = if mag == 1 {
                format!("{name} as isize")
            } else {
                format!("{name} as isize * {mag}")
            };
            match (out.is_empty(), *stride < 0) {
                (true, false) => out.push_str(&term),
                (true, true) => out.push_str(&format!("-({term})")),
                (false, false) => out.push_str(&format!(" + {term}")),
                (false, true) => out.push_str(&format!(" - {term}")),
            }
        }
        match (out.is_empty(), self.constant) {
            (true, c) => out = c.to_string(),
            (false, 0) => {}
            (false, c) if c < 0 => out.push_str(&format!(" - {}", c.unsigned_abs())),
            (false, c) => out.push_str(&format!(" + {c}")),
        }
        out
    }
}

/// `array[offset]`: one element of a flat tensor, an accumulator's lane,
/// or a sliced row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Access {
    pub(super) array: String,
    pub(super) offset: Affine,
}

/// A row of a tensor, `array[start..start + len]`, sliced before an inner
/// loop so that the loop indexes a slice of known length.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) array: String,
    pub(super) start: Affine,
    pub(super) len: usize,
}
