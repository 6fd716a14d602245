//! The binary run under an address-space cap (`prlimit --as`) and a time
//! guard, for the tests of large and deep programs.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Whether `prlimit` (util-linux) can run a program here.
pub fn prlimit_works() -> bool {
    Command::new("prlimit")
        .args(["--as=1000000000", "--", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `netgrad ARGS` in `dir` with at most `cap` bytes of address space,
/// `RUST_BACKTRACE=1` if `backtrace` (a panic under the cap once hung on
/// the backtrace lock); its exit status and standard error, or `None` if it
/// ran longer than `guard` (then it is killed).
pub fn run(
    cap: u64,
    args: &[&str],
    dir: &Path,
    backtrace: bool,
    guard: Duration,
) -> Option<(ExitStatus, String)> {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={cap}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_netgrad"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if backtrace {
        command.env("RUST_BACKTRACE", "1");
    } else {
        command.env_remove("RUST_BACKTRACE");
    }
    let mut child = command.spawn().expect("prlimit runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > guard {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = std::io::read_to_string(child.stderr.take().expect("piped")).unwrap_or_default();
    Some((status, stderr))
}
