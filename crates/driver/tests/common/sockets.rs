//! Counts this process's TCP connections to given ports (Linux: /proc), for the
//! shared-pool test and the many-drivers example. The emulator runs in the same process,
//! so only sockets whose *remote* port is one of the emulator's are client sockets.

use std::collections::HashSet;

/// This process's open socket inodes (from /proc/self/fd).
fn socket_inodes() -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    entries
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// Established client connections of this process to any of `ports`, or `None` where
/// /proc is not available.
pub fn client_connections_to(ports: &[u16]) -> Option<usize> {
    let ours = socket_inodes();
    let mut count = 0;
    let mut readable = false;
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let established = *state == "01";
            let port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode: Option<u64> = inode.parse().ok();
            if established
                && port.is_some_and(|p| ports.contains(&p))
                && inode.is_some_and(|i| ours.contains(&i))
            {
                count += 1;
            }
        }
    }
    readable.then_some(count)
}

/// The port of an endpoint URL like `http://127.0.0.1:40123/`.
pub fn port_of(url: &str) -> Option<u16> {
    url.trim_end_matches('/').rsplit(':').next()?.parse().ok()
}

/// Resident memory of this process in KiB (VmRSS), where /proc is available.
pub fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
