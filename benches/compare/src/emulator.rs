//! One `meridian-emulator` process: spawned from the binary built in the main workspace,
//! its JSON ready line read within a deadline, killed and reaped when dropped (also on a
//! panic), and driven over its admin API with plain, bounded HTTP/1.1 on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest the emulator may take to print its ready line.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// The longest one admin exchange may take.
const ADMIN_DEADLINE: Duration = Duration::from_secs(10);

/// Where the account is and its key; `Debug` never shows the key.
#[derive(Clone)]
pub struct Account {
    /// The global endpoint, `http://127.0.0.1:PORT/`.
    pub global: String,
    key: String,
}

impl Account {
    /// An account at `global` with master key `key`.
    pub fn new(global: String, key: String) -> Self {
        Self { global, key }
    }

    /// The master key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("global", &self.global)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A running emulator process; dropping it kills and reaps the process.
#[derive(Debug)]
pub struct EmulatorProcess {
    child: Child,
    /// The account it serves.
    pub account: Account,
}

impl EmulatorProcess {
    /// Starts `binary --regions R1,R2 --port 0` and waits for its ready line.
    pub fn start(binary: &str, regions: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(binary)
            .args(["--regions", &regions.join(","), "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.map(|out| BufReader::new(out).read_line(&mut line));
            let _ = tx.send(read.map(|_| line));
        });
        let line = match rx.recv_timeout(READY_DEADLINE) {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the emulator printed no ready line within {} s",
                    READY_DEADLINE.as_secs()
                ));
            }
        };
        let mut process = Self {
            child,
            account: Account::new(String::new(), String::new()),
        };
        // From here on, an error drops `process`, which kills the child.
        let ready: Value = serde_json::from_str(line.trim())
            .map_err(|e| format!("the ready line is not JSON ({e})"))?;
        process.account.global = ready["global"]
            .as_str()
            .ok_or("the ready line has no `global`")?
            .to_string();
        process.account.key = ready["key"]
            .as_str()
            .ok_or("the ready line has no `key`")?
            .to_string();
        Ok(process)
    }

    /// The process id.
    #[cfg(test)]
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `POST /_emulator/{path}` with a JSON body; any 2xx is success.
    pub async fn admin(&self, path: &str, body: &str) -> Result<String, String> {
        let (status, text) = send(&self.account.global, "POST", path, body).await?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(format!("POST {path}: {status} {text}"))
        }
    }

    /// `GET /_emulator/stats`, as JSON.
    pub async fn stats(&self) -> Result<Value, String> {
        self.get("/_emulator/stats").await
    }

    /// `GET {path}` (an admin path), as JSON; anything but 200 is an error.
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let (status, text) = send(&self.account.global, "GET", path, "").await?;
        if status != 200 {
            return Err(format!("GET {path}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("GET {path}: not JSON: {e}"))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Requests of `class` with `method` on `listener` (`None`: every listener) in a stats
/// document.
pub fn count(stats: &Value, listener: Option<&str>, class: &str, method: &str) -> u64 {
    let Some(listeners) = stats["listeners"].as_object() else {
        return 0;
    };
    listeners
        .iter()
        .filter(|(name, _)| listener.is_none_or(|l| l == name.as_str()))
        .filter_map(|(_, counters)| counters["by_class"][class][method].as_u64())
        .sum()
}

/// One request with `connection: close`; the whole exchange within [`ADMIN_DEADLINE`].
async fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let authority = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connect {authority}: {e}"))?;
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(body.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(ADMIN_DEADLINE, exchange)
        .await
        .map_err(|_| format!("{method} {path}: no reply within 10 s"))??;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: not an HTTP reply"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::{EmulatorProcess, count};
    use serde_json::json;

    /// A stand-in for the emulator binary: a shell script in a fresh temporary directory.
    fn script(name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("compare-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("emulator.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn the_ready_line_is_read_and_dropping_kills_and_reaps_the_process() {
        let binary = script(
            "ready",
            r#"echo '{"global":"http://127.0.0.1:9/","regions":{},"key":"c2VjcmV0"}'; exec sleep 60"#,
        );
        let process = EmulatorProcess::start(&binary, &["West US"]).expect("ready");
        assert_eq!(process.account.global, "http://127.0.0.1:9/");
        assert_eq!(process.account.key(), "c2VjcmV0");
        assert!(!format!("{:?}", process.account).contains("c2VjcmV0"));
        let proc_dir = format!("/proc/{}", process.pid());
        assert!(std::path::Path::new(&proc_dir).exists());
        drop(process);
        assert!(!std::path::Path::new(&proc_dir).exists());
    }

    #[test]
    fn a_process_without_a_ready_line_is_an_error() {
        let binary = script("silent", "exit 3");
        let error = EmulatorProcess::start(&binary, &["West US"]).expect_err("no ready line");
        assert!(error.contains("ready line"), "{error}");
    }

    #[test]
    fn count_sums_one_class_and_method_over_the_chosen_listeners() {
        let stats = json!({"listeners": {
            "global": {"total": 9, "by_class": {"account": {"GET": 4}, "items": {"GET": 1}}},
            "West US": {"total": 3, "by_class": {"account": {"GET": 2}}},
            "East US": {"total": 0, "by_class": {}}
        }});
        assert_eq!(count(&stats, None, "account", "GET"), 6);
        assert_eq!(count(&stats, Some("West US"), "account", "GET"), 2);
        assert_eq!(count(&stats, Some("East US"), "account", "GET"), 0);
        assert_eq!(count(&stats, None, "items", "POST"), 0);
        assert_eq!(count(&json!({}), None, "account", "GET"), 0);
    }
}
