//! Captures every tracing event of this test binary, so tests can search what was logged.

use std::io::Write;
use std::sync::{Mutex, Once};

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (TRACE, every target) once per process.
pub fn install() {
    INSTALL.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| Sink)
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .try_init();
    });
}

/// Every captured line containing all of `needles`.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|line| needles.iter().all(|n| line.contains(n)))
        .map(str::to_string)
        .collect()
}

/// Whether anything captured so far contains `needle`.
pub fn contains(needle: &str) -> bool {
    let log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&log).contains(needle)
}
