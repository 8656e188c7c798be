//! `cargo xtask sdk-suite [FILE...]`: the official Python SDK's own tests against the
//! emulator, run as a new user would. The `azure-cosmos` sdist (which ships `tests/`) is
//! downloaded and installed with pytest into a venv under `target/sdk-suite/`; nothing of it
//! is copied into the repository. Each file runs against a fresh emulator process (TLS, port
//! 8081) with a per-test timeout; the per-file table goes to stdout and
//! `target/sdk-suite/summary.json`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SDK release whose suite is run.
const SDK: &str = "azure-cosmos==4.17.1";
/// The directory its sdist unpacks to.
const SDK_DIR: &str = "azure_cosmos-4.17.1";
/// What the suite imports besides the SDK (and what the SDK pulls in itself).
const TEST_DEPS: &[&str] = &["pytest", "pytest-asyncio", "pytest-timeout", "aiohttp"];
/// The issue's 25 files, run when no FILE is named.
pub(crate) const DEFAULT_FILES: &[&str] = &[
    "test_crud.py",
    "test_crud_async.py",
    "test_crud_container.py",
    "test_crud_database.py",
    "test_crud_subpartition.py",
    "test_query.py",
    "test_query_async.py",
    "test_query_cross_partition.py",
    "test_query_cross_partition_async.py",
    "test_orderby.py",
    "test_multi_orderby.py",
    "test_aggregate.py",
    "test_change_feed.py",
    "test_change_feed_async.py",
    "test_partition_key.py",
    "test_partition_key_async.py",
    "test_transactional_batch.py",
    "test_transactional_batch_async.py",
    "test_session.py",
    "test_session_async.py",
    "test_headers.py",
    "test_ttl.py",
    "test_globaldb.py",
    "test_globaldb_mock.py",
    "test_multimaster.py",
];
/// The host the suite treats as "the emulator" (`tests/test_config.py`): with any other
/// `ACCOUNT_HOST` it asks for an AAD credential.
const LOCAL_HOST: &str = "https://localhost:8081/";
/// Seconds one test may take before pytest-timeout fails it.
const TEST_TIMEOUT_SECS: u64 = 90;
/// One file's whole run is ended after this long.
const FILE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long the emulator may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The suite imports `devtools_testutils` (the SDK repository's test tooling, not published)
/// for two names only; against the emulator neither is used, so this stand-in is enough.
const SHIM_FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        "\"\"\"Stand-in for the SDK repo's test tooling (meridian xtask sdk-suite).\"\"\"\n",
    ),
    (
        "azure_recorded_testcase.py",
        "import os\n\n\ndef get_credential(is_async=False):\n    \"\"\"Only called for a non-emulator host: use the master key.\"\"\"\n    return os.environ.get(\"ACCOUNT_KEY\")\n",
    ),
    (
        "helpers.py",
        "def is_live():\n    \"\"\"The suite sets `is_live._cache`; live means not recorded.\"\"\"\n    return bool(getattr(is_live, \"_cache\", True))\n",
    ),
];

/// One file's counts, from its JUnit XML.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct FileResult {
    pub(crate) collected: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
    pub(crate) errors: u64,
    /// Why the file has no JUnit report (e.g. it timed out as a whole), if so.
    pub(crate) note: Option<String>,
}

/// Runs the suite over `files` (the default 25 when empty).
pub(crate) fn run(root: &Path, files: &[String]) -> Result<(), String> {
    let target = target_dir(root);
    let dir = target.join("sdk-suite");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let files: Vec<String> = if files.is_empty() {
        DEFAULT_FILES.iter().map(|f| f.to_string()).collect()
    } else {
        files.to_vec()
    };
    let python = install(&dir)?;
    eprintln!("xtask: == sdk-suite: build the emulator ==");
    let status = Command::new(super::cargo())
        .current_dir(root)
        .args(["build", "--locked", "-p", "meridian-emulator"])
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the emulator failed ({status})"));
    }
    // A copy runs: a rebuild while the suite runs must not change the emulator under it.
    let emulator = dir.join("meridian-emulator");
    std::fs::copy(target.join("debug").join("meridian-emulator"), &emulator)
        .map_err(|e| format!("copying the emulator binary: {e}"))?;
    let host = std::env::var("ACCOUNT_HOST").unwrap_or_else(|_| LOCAL_HOST.to_string());
    let port = port_of(&host)?;
    let tests = dir.join(SDK_DIR).join("tests");
    let results = dir.join("results");
    std::fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
    let mut rows = Vec::new();
    for file in &files {
        if !tests.join(file).is_file() {
            return Err(format!("{file}: no such file in the SDK's tests/"));
        }
        eprintln!("xtask: == sdk-suite: {file} ==");
        let result = run_file(&python, &emulator, &dir, &tests, &host, port, file)?;
        eprintln!("xtask: {}", row_text(file, &result));
        rows.push((file.clone(), result));
    }
    let table = table_text(&rows);
    println!("{table}");
    let summary = summary_json(&rows);
    let path = dir.join("summary.json");
    std::fs::write(&path, summary).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "xtask: sdk-suite done: {} (logs and JUnit XML in {})",
        path.display(),
        results.display()
    );
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if target.is_absolute() {
        target
    } else {
        root.join(target)
    }
}

/// The venv with the SDK (from its sdist) and the test dependencies, made once; returns its
/// python. The unpacked sdist's `tests/` is what runs.
fn install(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let marker = dir.join("installed");
    if marker.is_file() && python.is_file() && dir.join(SDK_DIR).join("tests").is_dir() {
        return Ok(python);
    }
    eprintln!("xtask: == sdk-suite: venv with {SDK} (from its sdist) and pytest ==");
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    run_step(
        Command::new(&py).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    let download = dir.join("download");
    run_step(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                SDK,
                "-d",
            ])
            .arg(&download),
        "pip download",
    )?;
    let sdist = download.join(format!("{SDK_DIR}.tar.gz"));
    run_step(
        Command::new("tar")
            .arg("xzf")
            .arg(&sdist)
            .arg("-C")
            .arg(dir),
        "unpacking the sdist",
    )?;
    run_step(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet"])
            .arg(dir.join(SDK_DIR))
            .args(TEST_DEPS),
        "pip install",
    )?;
    let shim = dir.join("shim").join("devtools_testutils");
    std::fs::create_dir_all(&shim).map_err(|e| format!("{}: {e}", shim.display()))?;
    for (name, text) in SHIM_FILES {
        std::fs::write(shim.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    std::fs::write(&marker, SDK).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(python)
}

fn run_step(command: &mut Command, what: &str) -> Result<(), String> {
    // Installers' chatter goes to stderr: stdout is the table.
    let status = command
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The port of an `https://host:port/` address.
pub(crate) fn port_of(host: &str) -> Result<u16, String> {
    let rest = host
        .strip_prefix("https://")
        .ok_or_else(|| format!("ACCOUNT_HOST `{host}` must start with https://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((_, port)) => port
            .parse()
            .map_err(|_| format!("ACCOUNT_HOST `{host}`: bad port")),
        None => Ok(443),
    }
}

/// A running emulator, stopped (killed) on drop.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the emulator with TLS on `port`, returns it and its certificate's PEM path.
fn start_emulator(binary: &Path, port: u16, log: &Path) -> Result<(Emulator, String), String> {
    let log = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(binary)
        .args(["--tls", "--advertise-host", "localhost", "--port"])
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("no emulator stdout")?;
    let emulator = Emulator(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(READY_TIMEOUT)
        .map_err(|_| "the emulator printed no ready line".to_string())?;
    let ready: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| format!("the emulator's ready line is not JSON ({e}): {line}"))?;
    let certificate = ready["certificate"]
        .as_str()
        .ok_or("the ready line names no certificate")?
        .to_string();
    Ok((emulator, certificate))
}

fn run_file(
    python: &Path,
    emulator: &Path,
    dir: &Path,
    tests: &Path,
    host: &str,
    port: u16,
    file: &str,
) -> Result<FileResult, String> {
    let stem = file.trim_end_matches(".py");
    let results = dir.join("results");
    let (_emulator, certificate) = start_emulator(
        emulator,
        port,
        &results.join(format!("{stem}.emulator.log")),
    )?;
    let junit = results.join(format!("{stem}.xml"));
    let _ = std::fs::remove_file(&junit);
    let log_path = results.join(format!("{stem}.log"));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err_log = log.try_clone().map_err(|e| e.to_string())?;
    let mut pytest = Command::new(python)
        .current_dir(tests)
        // Native tracebacks: pytest's own rendering parses the test's source and can die
        // (INTERNALERROR, the rest of the file unrun) on a deep recursion in a test.
        .args([
            "-m",
            "pytest",
            file,
            "-p",
            "no:cacheprovider",
            "-rfE",
            "-q",
            "--tb=native",
        ])
        .arg(format!("--timeout={TEST_TIMEOUT_SECS}"))
        .arg(format!("--junitxml={}", junit.display()))
        .env("ACCOUNT_HOST", host)
        .env("PYTHONPATH", dir.join("shim"))
        // requests (sync client) and OpenSSL's default paths (aiohttp) trust the
        // emulator's self-signed certificate.
        .env("REQUESTS_CA_BUNDLE", &certificate)
        .env("SSL_CERT_FILE", &certificate)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|e| format!("could not start pytest: {e}"))?;
    let start = Instant::now();
    let timed_out = loop {
        match pytest.try_wait() {
            Ok(Some(_)) => break false,
            Ok(None) if start.elapsed() > FILE_TIMEOUT => {
                let _ = pytest.kill();
                let _ = pytest.wait();
                break true;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("waiting for pytest: {e}")),
        }
    };
    let mut result = match std::fs::read_to_string(&junit) {
        Ok(xml) => parse_junit(&xml),
        Err(_) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let why = if log.contains("INTERNALERROR") {
                "INTERNALERROR: the session's setup failed, no test ran"
            } else {
                "no JUnit report"
            };
            FileResult {
                errors: 1,
                note: Some(format!("{why} (see results/{stem}.log)")),
                ..FileResult::default()
            }
        }
    };
    if timed_out {
        result.note = Some(format!("ended after {} s", FILE_TIMEOUT.as_secs()));
    }
    Ok(result)
}

/// Sums the `<testsuite>` counts of a JUnit XML report.
pub(crate) fn parse_junit(xml: &str) -> FileResult {
    let mut result = FileResult::default();
    for (at, _) in xml.match_indices("<testsuite ") {
        let tag = &xml[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let count = |name: &str| -> u64 {
            let key = format!(" {name}=\"");
            tag.find(&key)
                .and_then(|i| {
                    let value = &tag[i + key.len()..];
                    value[..value.find('"')?].parse().ok()
                })
                .unwrap_or(0)
        };
        result.collected += count("tests");
        result.failed += count("failures");
        result.errors += count("errors");
        result.skipped += count("skipped");
    }
    result.passed = result
        .collected
        .saturating_sub(result.failed + result.errors + result.skipped);
    result
}

fn row_text(file: &str, r: &FileResult) -> String {
    format!(
        "{file:<40} {:>9} {:>6} {:>6} {:>7} {:>6}{}",
        r.collected,
        r.passed,
        r.failed,
        r.skipped,
        r.errors,
        r.note
            .as_deref()
            .map(|n| format!("  {n}"))
            .unwrap_or_default()
    )
}

/// The per-file table with a total row.
pub(crate) fn table_text(rows: &[(String, FileResult)]) -> String {
    let mut out = format!(
        "{:<40} {:>9} {:>6} {:>6} {:>7} {:>6}\n",
        "file", "collected", "passed", "failed", "skipped", "errors"
    );
    let mut total = FileResult::default();
    for (file, r) in rows {
        out.push_str(&row_text(file, r));
        out.push('\n');
        total.collected += r.collected;
        total.passed += r.passed;
        total.failed += r.failed;
        total.skipped += r.skipped;
        total.errors += r.errors;
    }
    out.push_str(&row_text("total", &total));
    let ran = total.passed + total.failed + total.errors;
    if ran > 0 {
        out.push_str(&format!(
            "\npassed {} of {} tests that ran ({:.1} %)",
            total.passed,
            ran,
            100.0 * total.passed as f64 / ran as f64
        ));
    }
    out
}

fn summary_json(rows: &[(String, FileResult)]) -> String {
    let files: Vec<serde_json::Value> = rows
        .iter()
        .map(|(file, r)| {
            serde_json::json!({
                "file": file,
                "collected": r.collected,
                "passed": r.passed,
                "failed": r.failed,
                "skipped": r.skipped,
                "errors": r.errors,
                "note": r.note,
            })
        })
        .collect();
    let summary = serde_json::json!({ "sdk": SDK, "files": files });
    serde_json::to_string_pretty(&summary).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_counts_are_summed_and_passes_derived() {
        let xml = r#"<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="1" failures="2" skipped="3" tests="10" time="1.0"><testcase/></testsuite></testsuites>"#;
        let r = parse_junit(xml);
        assert_eq!(
            (r.collected, r.passed, r.failed, r.skipped, r.errors),
            (10, 4, 2, 3, 1)
        );
    }

    #[test]
    fn the_port_comes_from_account_host() {
        assert_eq!(port_of("https://localhost:8081/"), Ok(8081));
        assert_eq!(port_of("https://localhost/"), Ok(443));
        assert!(port_of("http://localhost:8081/").is_err());
    }
}
