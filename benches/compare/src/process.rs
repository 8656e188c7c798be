//! What this process holds, from `/proc/self`: resident memory, threads, open sockets.

/// A snapshot of the process's footprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// `VmRSS`, in KiB.
    pub rss_kib: u64,
    /// `Threads`.
    pub threads: u64,
    /// File descriptors that are sockets.
    pub sockets: u64,
}

/// Reads the footprint; fields that cannot be read are 0.
pub fn footprint() -> Footprint {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Footprint {
        rss_kib: status_field(&status, "VmRSS:"),
        threads: status_field(&status, "Threads:"),
        sockets: sockets(),
    }
}

/// The first number after `name` in a `/proc/*/status` text.
fn status_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn sockets() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_by_name() {
        let status = "Name:\tx\nVmRSS:\t  12345 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmRSS:"), 12345);
        assert_eq!(status_field(status, "Threads:"), 7);
        assert_eq!(status_field(status, "VmHWM:"), 0);
    }

    #[test]
    fn an_open_socket_is_counted() {
        let before = footprint().sockets;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        assert_eq!(footprint().sockets, before + 1);
        drop(listener);
        assert!(footprint().rss_kib > 0);
    }
}
