//! Project automation in plain Rust: `cargo xtask ci` is the gate every change passes.

mod layering;
mod modules;
#[cfg(test)]
mod nameable;
mod sdk_suite;
#[cfg_attr(not(test), allow(dead_code))]
mod tidy;

use std::process::{Command, ExitCode};

const USAGE: &str =
    "usage: cargo xtask <ci | layering | sim [--seeds N] [--seed S] | fuzz [SECONDS] | interop | compare [MEASUREMENT...] | package | modules | sdk-suite [FILE...]>

  ci        fmt --check, clippy -D warnings, tests (with doctests), every benchmark
            once in test mode, the tour, docs -D warnings, a check that the fuzz
            targets compile, then the crate layering check; stops at the first failure
  layering  only the crate layering check
  sim       the runtime's deterministic simulator (release build): seeds 0..N
            (default 1000), or the one seed S a failure printed, to replay it
  fuzz      a short smoke run of every fuzz target (default 30 s each; needs
            `cargo install cargo-fuzz`; stable toolchain, --sanitizer none)
  interop   build and run interop/ (the official Rust Cosmos DB SDK, with its defaults,
            against an in-process emulator; own target dir interop/target); prints a
            pass/fail table per scenario and fails if any scenario fails
  compare   build the emulator (release), then build and run benches/compare/ (the
            official SDK and Meridian head to head, one emulator process per
            measurement; own target dir benches/compare/target); prints a table and
            writes target/compare/summary.json. Measurements: fanout, cost, point-ops,
            failover, outage, bulk, shapes, partition, partition-cost (default: all)
  package   cargo package for the crates people depend on (refresh-core,
            location-store, runtime, driver, emulator), each then built alone from
            its package; needs the crates.io index, so not part of ci
  modules   each crate's top-level modules in layers, leaves first, and any module
            cycle (the tidy test `no_crate_has_a_module_cycle` fails on one)
  sdk-suite the official Python SDK's own tests (azure-cosmos 4.17.1, from its sdist,
            in a venv under target/sdk-suite/) against the emulator binary (TLS, port
            8081 or ACCOUNT_HOST's), one emulator per file, each test at most 90 s;
            default: the 25 files of issue 31. Prints a per-file table and writes
            target/sdk-suite/summary.json; needs python3 and PyPI, so not part of ci";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("ci") => ci(),
        Some("layering") => layering_check(),
        Some("sim") => sim(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("fuzz") => fuzz(std::env::args().nth(2).as_deref()),
        Some("interop") => interop(),
        Some("compare") => compare(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("package") => package(),
        Some("modules") => modules_report(),
        Some("sdk-suite") => sdk_suite(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One gate step: a cargo invocation with optional extra environment.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CI_STEPS: &[Step] = &[
    Step {
        name: "format",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "tests",
        args: &["test", "--workspace"],
        env: &[],
    },
    Step {
        name: "benches (test mode)",
        args: &["test", "--package", "meridian-benches", "--benches"],
        env: &[],
    },
    Step {
        name: "tour",
        args: &[
            "run",
            "--quiet",
            "--package",
            "meridian-driver",
            "--example",
            "tour",
        ],
        env: &[],
    },
    Step {
        name: "docs",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    // The fuzz workspace is excluded from this one, so nothing else builds it: without
    // this step its targets rot silently when a crate's API moves.
    Step {
        name: "fuzz targets compile",
        args: &[
            "check",
            "--locked",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--bins",
        ],
        env: &[],
    },
];

/// The crates people depend on one at a time, packaged together (cargo resolves each one's
/// dependencies on the others from the packages it just made) and each built from its
/// package.
const PACKAGE: Step = Step {
    name: "package",
    args: &[
        "package",
        "--package",
        "meridian-refresh-core",
        "--package",
        "meridian-location-store",
        "--package",
        "meridian-runtime",
        "--package",
        "meridian-driver",
        "--package",
        "meridian-emulator",
    ],
    env: &[],
};

fn ci() -> Result<(), String> {
    for step in CI_STEPS {
        run_cargo(step)?;
    }
    eprintln!("xtask: == layering ==");
    layering_check()?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn run_cargo(step: &Step) -> Result<(), String> {
    eprintln!("xtask: == {} == cargo {}", step.name, step.args.join(" "));
    let status = Command::new(cargo())
        .args(step.args)
        .envs(step.env.iter().copied())
        .status()
        .map_err(|e| format!("{}: could not run cargo: {e}", step.name))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "step `{}` failed (cargo {}): {status}",
            step.name,
            step.args.join(" ")
        ))
    }
}

/// The workspace's target directory (`CARGO_TARGET_DIR`, relative to the root, or `target`).
fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if target.is_absolute() {
        target
    } else {
        root.join(target)
    }
}

/// `cargo package` of the library crates, from a clean slate: cargo takes a registry
/// crate's version as immutable, so the previous run's packages of our crates (same names,
/// same versions, older sources) — their builds and their unpacked sources under
/// `$CARGO_HOME/registry/src/<the overlay registry>/` — would be reused when verifying the
/// new ones. Only our own crates' directories outside the crates.io index's
/// are removed.
fn package() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    // Verified in a target directory of their own: the workspace's would hold last run's
    // builds of the same registry versions.
    let verify = target_dir(root).join("package-verify");
    let mut stale = vec![target_dir(root).join("package"), verify.clone()];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    if let Some(sources) = cargo_home.map(|h| h.join("registry").join("src"))
        && let Ok(registries) = std::fs::read_dir(sources)
    {
        for registry in registries.flatten() {
            if registry
                .file_name()
                .to_string_lossy()
                .starts_with("index.crates.io")
            {
                continue;
            }
            for krate in std::fs::read_dir(registry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if krate.file_name().to_string_lossy().starts_with("meridian-") {
                    stale.push(krate.path());
                }
            }
        }
    }
    for dir in stale.iter().filter(|d| d.exists()) {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("package: could not remove {}: {e}", dir.display()))?;
    }
    let status = Command::new(cargo())
        .args(PACKAGE.args)
        .env("CARGO_TARGET_DIR", &verify)
        .status()
        .map_err(|e| format!("package: could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "package: cargo {} failed: {status}",
            PACKAGE.args.join(" ")
        ))
    }
}

fn sdk_suite(files: &[String]) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    sdk_suite::run(root, files)
}

fn modules_report() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    let crates = modules::crate_sources(root);
    print!("{}", modules::layers_text(&crates));
    let mut cycles = 0;
    for (name, files) in &crates {
        for (cycle, ties) in modules::cycles_with_ties(files) {
            cycles += 1;
            let ties = ties.join("\n    ");
            println!("{name}: cycle {}\n    {ties}", modules::named(&cycle));
        }
    }
    if cycles == 0 {
        Ok(())
    } else {
        Err(format!("{cycles} module cycle(s)"))
    }
}

fn layering_check() -> Result<(), String> {
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1"])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
    let violations = layering::check(&metadata)?;
    if violations.is_empty() {
        eprintln!("xtask: layering ok");
        return Ok(());
    }
    let list: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
    Err(format!("layering check failed:\n{}", list.join("\n")))
}

/// The fuzz targets in `fuzz/fuzz_targets/`, each seeded from `fuzz/corpus/<target>/`.
const FUZZ_TARGETS: &[&str] = &[
    "account_document",
    "authorization_header",
    "binary_json",
    "emulator_request",
    "event_effect",
    "query_sql",
];

/// Runs the runtime's simulator (`crates/runtime/tests/sim`) over `--seeds N` seeds or
/// the one `--seed S`, in release: the test reads the count from the environment.
fn sim(args: &[String]) -> Result<(), String> {
    let (name, value) = match args {
        [] => ("MERIDIAN_SIM_SEEDS", "1000"),
        [flag, value] if flag == "--seeds" => ("MERIDIAN_SIM_SEEDS", value.as_str()),
        [flag, value] if flag == "--seed" => ("MERIDIAN_SIM_SEED", value.as_str()),
        _ => return Err(format!("sim takes --seeds N or --seed S\n{USAGE}")),
    };
    value
        .parse::<u64>()
        .map_err(|_| format!("sim: `{value}` is not a whole number"))?;
    let status = Command::new(cargo())
        .args([
            "test",
            "--release",
            "--package",
            "meridian-runtime",
            "--test",
            "sim",
            "--",
            "--nocapture",
        ])
        .env(name, value)
        .status()
        .map_err(|e| format!("sim: could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "sim: a seed broke an invariant ({status}); its replay command is above"
        ))
    }
}

fn fuzz(seconds: Option<&str>) -> Result<(), String> {
    let seconds: u64 = match seconds {
        None => 30,
        Some(s) => s
            .parse()
            .map_err(|_| format!("fuzz takes a number of seconds, not `{s}`"))?,
    };
    let installed = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return Err("cargo-fuzz is not installed: run `cargo install cargo-fuzz`".into());
    }
    for target in FUZZ_TARGETS {
        eprintln!("xtask: == fuzz {target} for {seconds} s ==");
        // New inputs go to the (ignored) target directory; the checked-in seeds stay as
        // they are.
        let scratch = format!("fuzz/target/smoke-corpus/{target}");
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{scratch}: {e}"))?;
        let status = Command::new(cargo())
            .args(["fuzz", "run", target, "--sanitizer", "none", &scratch])
            .arg(format!("fuzz/corpus/{target}"))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .map_err(|e| format!("could not run cargo fuzz: {e}"))?;
        if !status.success() {
            return Err(format!(
                "fuzz target `{target}` failed ({status}); the crashing input is in fuzz/artifacts/{target}/"
            ));
        }
    }
    eprintln!("xtask: fuzz smoke run passed");
    Ok(())
}

/// Builds and runs the `interop/` workspace (excluded from the main one, so `ci` never
/// builds the SDK) with its own target dir and its committed lock file.
fn interop() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    eprintln!("xtask: == interop == (first build of the SDK takes minutes)");
    let status = Command::new(cargo())
        .current_dir(root)
        .args(["run", "--locked", "--manifest-path", "interop/Cargo.toml"])
        .env("CARGO_TARGET_DIR", root.join("interop").join("target"))
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        eprintln!("xtask: interop passed");
        Ok(())
    } else {
        Err(format!("interop failed ({status}): see the table above"))
    }
}

/// The SDK's switch for its background account refresh interval; the comparison sets it
/// to Meridian's 1 s.
const SDK_REFRESH_ENV: (&str, &str) = (
    "AZURE_COSMOS_E2E_BACKGROUND_ACCOUNT_REFRESH_INTERVAL_MS",
    "1000",
);

/// Builds the emulator binary in release mode, then builds and runs the `benches/compare/`
/// workspace (excluded from the main one) in release mode with its own target dir and its
/// committed lock file, pointing it at that binary.
fn compare(measurements: &[String]) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?;
    eprintln!("xtask: == compare: build the emulator (release) ==");
    let status = Command::new(cargo())
        .current_dir(root)
        .args(["build", "--release", "--locked", "-p", "meridian-emulator"])
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the emulator failed ({status})"));
    }
    let emulator = target_dir(root).join("release").join("meridian-emulator");
    eprintln!("xtask: == compare == (first build of the SDK takes minutes)");
    let status = Command::new(cargo())
        .current_dir(root)
        .args([
            "run",
            "--release",
            "--locked",
            "--manifest-path",
            "benches/compare/Cargo.toml",
            "--",
        ])
        .args(measurements)
        .env(
            "CARGO_TARGET_DIR",
            root.join("benches").join("compare").join("target"),
        )
        .env("MERIDIAN_EMULATOR_BIN", emulator)
        .env(SDK_REFRESH_ENV.0, SDK_REFRESH_ENV.1)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        eprintln!("xtask: compare done: target/compare/summary.json");
        Ok(())
    } else {
        Err(format!("compare failed ({status})"))
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}
