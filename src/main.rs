//! The `netgrad` command line: the only place that does I/O and chooses exit codes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// netgrad: a symbolic differentiation compiler for `.net` network descriptions.
///
/// Exit status: 0 on success, 1 when the file has errors (or cannot be read),
/// 2 for a wrong command line.
#[derive(Parser)]
#[command(name = "netgrad", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .net file and print a summary: dims, values, definitions, the
    /// loss, and the values used more than once.
    Check {
        /// The .net file.
        file: PathBuf,
    },
    /// Print the expression DAG as Graphviz DOT (multi-use values in red).
    ///
    /// Render it with `netgrad graph net.net | dot -Tsvg > net.svg`.
    Graph {
        /// The .net file.
        file: PathBuf,
        /// Write the DOT here instead of to standard output.
        #[arg(short, long, value_name = "OUT.dot")]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Nothing useful can be done if standard error is gone.
            let _ = std::io::stderr().lock().write_all(message.as_bytes());
            ExitCode::from(1)
        }
    }
}

/// Runs one command; an error is the text to print on standard error.
fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Check { file } => {
            let dag = load(&file)?;
            let text = format!(
                "{}: no errors\n\n{}",
                file.display(),
                netgrad::summary::summary(&dag)
            );
            write_output(None, &text)
        }
        Command::Graph { file, output } => {
            let dag = load(&file)?;
            let name = file
                .file_stem()
                .map_or("net".into(), |s| s.to_string_lossy());
            let text = netgrad::dot::dot(&dag, &name);
            write_output(output.as_deref(), &text)
        }
    }
}

/// Reads and checks a file; on errors, the rendered diagnostics.
fn load(path: &Path) -> Result<netgrad::graph::Dag, String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("error: cannot read `{name}`: {e}\n"))?;
    let text = match netgrad::decode(bytes) {
        Ok(text) => text,
        Err(e) => return Err(netgrad::diag::render(&name, &e.lossy, &[e.diagnostic])),
    };
    netgrad::front_end(&text).map_err(|diags| {
        let mut s = netgrad::diag::render(&name, &text, &diags);
        let n = diags.iter().filter(|d| d.is_error()).count();
        s.push_str(&format!(
            "error: could not check `{name}`: {n} error{}\n",
            if n == 1 { "" } else { "s" }
        ));
        s
    })
}

fn write_output(path: Option<&Path>, text: &str) -> Result<(), String> {
    match path {
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            // A reader that stops early (`| head`) is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(format!("error: cannot write to standard output: {e}\n"))
            }
            _ => Ok(()),
        },
        Some(p) => std::fs::write(p, text)
            .map_err(|e| format!("error: cannot write `{}`: {e}\n", p.display())),
    }
}
