//! Network namespaces: open sockets (or attach programs) inside one, from any thread.
//!
//! A socket belongs to the namespace of the thread that created it, for life. So a probe and
//! a reflector in two namespaces joined by a veth pair need no threads living there: the
//! creating thread steps into the namespace, opens its datapath, and steps back.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::sys;

/// Runs `f` with the calling thread inside the named namespace (as `ip netns add` makes them,
/// under /run/netns), then returns the thread to the namespace it was in.
pub fn within<T>(name: &str, f: impl FnOnce() -> T) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(Path::new("/run/netns").join(name)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("network namespace {name:?} (/run/netns/{name}): {e}"),
        )
    })?;
    sys::setns_net(target.as_raw_fd())?;
    let out = f();
    // Returning cannot fail for a namespace we were just in, short of the kernel running out
    // of memory; a thread left elsewhere would be a silent lie, so that is fatal.
    sys::setns_net(home.as_raw_fd()).expect("return to the thread's own network namespace");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_namespace_is_named_in_the_error() {
        let e = within("latlab-no-such-namespace", || ()).unwrap_err();
        assert!(e.to_string().contains("latlab-no-such-namespace"), "{e}");
    }
}
