//! Helpers shared by the integration tests: skipping with a visible reason, privileges, and
//! running child processes with a time limit. Each test file uses a subset.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Skips (or, under LATLAB_REQUIRE_TOOLS=1, as `scripts/test.sh` sets it, fails) with
/// `reason`: a test that needs a missing tool says so instead of passing silently.
pub fn skip(reason: &str) {
    if std::env::var("LATLAB_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("LATLAB_REQUIRE_TOOLS=1 but {reason}");
    }
    eprintln!("skipping: {reason}");
}

/// Whether the tests run as root (network namespaces, AF_XDP).
pub fn is_root() -> bool {
    latlab_kernels::testbed::is_root()
}

/// Waits for `child` to exit, at most `limit`.
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Runs `cmd` to completion, killing it after `limit`; its output is read while it runs.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_for(&mut child, limit);
    let timed_out = status.is_none();
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait for the child");
    let out = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert!(
        !timed_out,
        "{cmd:?} did not finish within {limit:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
