//! Affine index forms: `Σ stride · index + constant` over loop variables,
//! the one way the loop-nest IR says where an access lands in a flat,
//! row-major tensor (`x[n * 784 + i]`), where a row slice starts, and
//! which value an unrolled copy of a loop variable takes (`i_block * 4 + 1`).
//!
//! Language version 2's affine subscripts (`x[i + k]`) are the same form
//! with more than one term per subscript. A stride is a [`Size`]: a number,
//! or, inside a dimension given at run time, a product of run-time dims and
//! a number (`n * T * 3`).

/// A size known at compile time, or a product of run-time dims (as the
/// code names them, locals bound from `Dims`) and a number: `784`, `N`,
/// `N * 3`. As a stride of an affine subscript (`x[N - 1 - i]`) the factor
/// may be negative; a size, an extent or a length never is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Size {
    pub(super) factor: isize,
    /// Run-time dims, in the order of the shape they come from.
    pub(super) dims: Vec<String>,
}

impl Size {
    /// The size when it is known at compile time.
    pub(super) fn constant(&self) -> Option<usize> {
        self.dims
            .is_empty()
            .then(|| usize::try_from(self.factor).expect("a size, not a negative stride"))
    }

    /// The stride times an affine subscript's coefficient.
    pub(super) fn scaled(&self, c: isize) -> Size {
        Size {
            factor: self.factor * c,
            dims: self.dims.clone(),
        }
    }

    /// The stride without its sign.
    pub(super) fn abs(&self) -> Size {
        self.scaled(self.factor.signum())
    }

    /// The product of two sizes.
    pub(super) fn times(&self, other: &Size) -> Size {
        let mut dims = self.dims.clone();
        dims.extend(other.dims.iter().cloned());
        Size {
            factor: self.factor * other.factor,
            dims,
        }
    }

    pub(super) fn is_one(&self) -> bool {
        self.dims.is_empty() && self.factor == 1
    }
}

impl From<usize> for Size {
    fn from(factor: usize) -> Size {
        Size {
            factor: factor as isize,
            dims: Vec::new(),
        }
    }
}

impl PartialEq<usize> for Size {
    fn eq(&self, other: &usize) -> bool {
        self.constant() == Some(*other)
    }
}

/// `terms[0].1 * terms[0].0 + ... + constant`, the terms in subscript
/// order (the printer keeps it: `n * 784 + i`, not `i + n * 784`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Affine {
    /// Loop variables (as the code names them) and their strides; a stride
    /// is negative only for an affine subscript (`x[N - 1 - i]`), whose
    /// value sema proved at least 0.
    pub(super) terms: Vec<(String, Size)>,
    /// The constant part: literal subscripts times their strides, or a
    /// negative offset (`i - 16`, a remainder loop's lane).
    pub(super) constant: isize,
}

impl Affine {
    /// One loop variable, stride 1.
    pub(super) fn var(name: &str) -> Affine {
        Affine {
            terms: vec![(name.to_string(), 1.into())],
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
            let mag = stride.abs();
            let term = if mag.is_one() {
                format!("{name} as isize")
            } else if mag.dims.is_empty() {
                format!("{name} as isize * {mag}")
            } else if mag.dims.len() == 1 && mag.factor == 1 {
                format!("{name} as isize * {mag} as isize")
            } else {
                format!("{name} as isize * ({mag}) as isize")
            };
            match (out.is_empty(), stride.factor < 0) {
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
    pub(super) len: Size,
}
