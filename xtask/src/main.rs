//! Project automation in plain Rust: `cargo xtask ci` is the gate every change passes.

mod layering;

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <ci | layering>

  ci        fmt --check, clippy -D warnings, tests (with doctests), every benchmark
            once in test mode, the tour,
            docs -D warnings, then the crate layering check; stops at the first failure
  layering  only the crate layering check";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("ci") => ci(),
        Some("layering") => layering_check(),
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
];

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

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}
