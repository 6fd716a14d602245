//! The indenting writer of generated code, and its helpers for signatures
//! and calls in rustfmt's layout.

/// Text being written, with its indentation level.
pub(super) struct Writer {
    pub(super) out: String,
    pub(super) level: usize,
}

impl Writer {
    pub(super) fn line(&mut self, s: &str) {
        if s.is_empty() {
            self.out.push('\n');
            return;
        }
        for _ in 0..self.level {
            self.out.push_str("    ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// A blank line, unless the text already ends in one or in an opening
    /// brace (rustfmt removes both).
    pub(super) fn blank(&mut self) {
        if !self.out.ends_with("\n\n") && !self.out.ends_with("{\n") {
            self.out.push('\n');
        }
    }

    pub(super) fn open(&mut self, s: &str) {
        self.line(s);
        self.level += 1;
    }

    pub(super) fn close(&mut self) {
        self.level -= 1;
        self.line("}");
    }

    /// `fn name(a: T, b: U) -> R {` on one line, or one parameter a line, as rustfmt does.
    pub(super) fn signature(&mut self, head: &str, params: &[String], ret: &str) {
        let one = format!("{head}({}) -> {ret} {{", params.join(", "));
        if 4 * self.level + one.len() <= 100 {
            self.open(&one);
            return;
        }
        self.open(&format!("{head}("));
        for p in params {
            self.line(&format!("{p},"));
        }
        self.level -= 1;
        self.open(&format!(") -> {ret} {{"));
    }

    /// A call statement whose arguments are all simple (literals, names,
    /// borrows of names), laid out as rustfmt lays out such lists: on one
    /// line when the arguments take at most 60 columns; else, when no argument is longer than 10 characters, packed into
    /// lines of at most 100 columns; else one argument a line.
    pub(super) fn simple_call(&mut self, callee: &str, args: &[String]) {
        self.packed_call(callee, args, ";");
    }

    /// A call as [`Writer::simple_call`] lays it out, ending in `end` (`;`
    /// for a statement, nothing for a tail expression).
    pub(super) fn packed_call(&mut self, callee: &str, args: &[String], end: &str) {
        let joined = args.join(", ");
        let one = format!("{callee}({joined}){end}");
        if joined.len() <= 60 && 4 * self.level + one.len() <= 100 {
            self.line(&one);
            return;
        }
        self.open(&format!("{callee}("));
        if args.iter().all(|a| a.len() <= 10) {
            let width = 100 - 4 * self.level;
            let mut line = String::new();
            for a in args {
                if !line.is_empty() && line.len() + 1 + a.len() + 1 > width {
                    self.line(&line);
                    line.clear();
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(a);
                line.push(',');
            }
            self.line(&line);
        } else {
            for a in args {
                self.line(&format!("{a},"));
            }
        }
        self.level -= 1;
        self.line(&format!("){end}"));
    }

    /// A call as a tail expression: on one line, or one argument a line.
    pub(super) fn call(&mut self, callee: &str, args: &[String]) {
        let joined = args.join(", ");
        if joined.len() <= 60 && 4 * self.level + callee.len() + joined.len() + 2 <= 100 {
            self.line(&format!("{callee}({joined})"));
            return;
        }
        self.open(&format!("{callee}("));
        for a in args {
            match chain_links(a) {
                // A field-and-method chain longer than rustfmt's
                // `chain_width` (60): one link a line, as rustfmt writes it
                // (`params.w.as_flattened().as_flattened().as_flattened()`
                // of a rank-4 param).
                Some(links) if a.len() > 60 => {
                    // A root no longer than an indent keeps its first link
                    // (`grad.w`), as rustfmt does.
                    let first = if links[0].len() <= 4 { 2 } else { 1 };
                    self.line(&links[..first].join("."));
                    self.level += 1;
                    for (k, link) in links.iter().enumerate().skip(first) {
                        let comma = if k + 1 == links.len() { "," } else { "" };
                        self.line(&format!(".{link}{comma}"));
                    }
                    self.level -= 1;
                }
                _ => self.line(&format!("{a},")),
            }
        }
        self.level -= 1;
        self.line(")");
    }
}

/// The links of `a` if it is a chain of identifiers and argument-less
/// method calls (`grad.w.as_flattened_mut()`), else `None`.
fn chain_links(a: &str) -> Option<Vec<&str>> {
    let links: Vec<&str> = a.split('.').collect();
    let ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let fits = links.len() > 1
        && ident(links[0])
        && links[1..]
            .iter()
            .all(|l| ident(l.strip_suffix("()").unwrap_or(l)));
    fits.then_some(links)
}
