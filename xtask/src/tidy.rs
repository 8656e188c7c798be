//! Tidy checks over the source tree, run as `cargo test -p xtask` (and so by `cargo xtask
//! ci`): the written contract (ARCHITECTURE.md) names only tests and files that exist,
//! every library module says what it is and can be read in one sitting, and public error
//! and response types can grow.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`, skipping build output.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != ".git" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Test names ARCHITECTURE.md cites (`enforced by` / `Enforced by` lists of backticked
/// `module::test_name` paths) that no `fn` in the tree defines.
pub(crate) fn missing_tests(architecture: &str, sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut missing = Vec::new();
    for cited in cited_tests(architecture) {
        let name = cited.rsplit("::").next().unwrap_or(&cited);
        if name == "*" {
            // `module::*`: the module must exist as a file.
            let module = cited
                .trim_end_matches("::*")
                .rsplit("::")
                .next()
                .unwrap_or("");
            let file = format!("{module}.rs");
            if !sources.iter().any(|(path, _)| path.ends_with(&file)) {
                missing.push(cited);
            }
            continue;
        }
        let defined = format!("fn {name}(");
        if !sources.iter().any(|(_, text)| text.contains(&defined)) {
            missing.push(cited);
        }
    }
    missing
}

/// Files ARCHITECTURE.md cites in `enforced by` lists (backticked paths with a `/`,
/// relative to the workspace root) that do not exist under `root`.
pub(crate) fn missing_files(architecture: &str, root: &Path) -> Vec<String> {
    citations(architecture)
        .into_iter()
        .filter(|part| part.contains('/') && !part.contains("::") && !part.contains('*'))
        .filter(|file| !root.join(file).is_file())
        .collect()
}

fn cited_tests(architecture: &str) -> Vec<String> {
    citations(architecture)
        .into_iter()
        .filter(|part| part.contains("::"))
        .collect()
}

/// The backticked, space-free parts of every `enforced by` citation.
fn citations(architecture: &str) -> Vec<String> {
    let mut cited = Vec::new();
    let lower = architecture.to_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("enforced by") {
        let start = from + at;
        // The citation runs to the end of the paragraph (a blank line or the next bullet).
        let rest = &architecture[start..];
        let end = rest
            .find("\n- ")
            .or_else(|| rest.find("\n\n"))
            .unwrap_or(rest.len());
        for (i, part) in rest[..end].split('`').enumerate() {
            if i % 2 == 1 && !part.is_empty() && !part.contains(' ') {
                cited.push(part.to_string());
            }
        }
        from = start + end.max(1);
    }
    cited
}

/// Library and binary modules under `crates/*/src` whose first line is not a `//!` doc.
pub(crate) fn undocumented_modules(sources: &[(PathBuf, String)]) -> Vec<PathBuf> {
    sources
        .iter()
        .filter(|(path, _)| is_crate_source(path))
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(path, _)| path.clone())
        .collect()
}

/// Public structs and enums under `crates/*/src` named like an error or a response
/// (`…Error`, `…Response`, `Failure`, `…Stats`) that are not `#[non_exhaustive]`.
pub(crate) fn exhaustive_public_types(sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources.iter().filter(|(path, _)| is_crate_source(path)) {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(name) = public_type_name(line) else {
                continue;
            };
            let grows = ["Error", "Response", "Failure", "Stats"]
                .iter()
                .any(|suffix| name.ends_with(suffix));
            if !grows {
                continue;
            }
            let attributes = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    let l = l.trim_start();
                    l.starts_with("#[") || l.starts_with("///") || l.starts_with("//")
                })
                .any(|l| l.contains("non_exhaustive"));
            if !attributes {
                found.push(format!("{}: {name}", path.display()));
            }
        }
    }
    found
}

/// The most lines a library source file may have (unit-test modules aside).
pub(crate) const MAX_SOURCE_LINES: usize = 400;

/// Library and binary modules under `crates/*/src` longer than [`MAX_SOURCE_LINES`], with
/// their length; `tests.rs` unit-test modules are exempt, as are tests and examples
/// outside `src`.
pub(crate) fn oversized_modules(sources: &[(PathBuf, String)]) -> Vec<String> {
    sources
        .iter()
        .filter(|(path, _)| is_crate_source(path) && !path.ends_with("tests.rs"))
        .filter_map(|(path, text)| {
            let lines = text.lines().count();
            (lines > MAX_SOURCE_LINES).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect()
}

/// Library crates under `crates/` (those with a `src/lib.rs`) whose README is missing, is
/// not compiled as doctests (`#[doc = include_str!("../README.md")]` under
/// `#[cfg(doctest)]` in `lib.rs`), or holds no Rust example that rustdoc compiles (a
/// fence marked `ignore` does not count), each with why.
pub(crate) fn readme_problems(crates: &[(String, Option<String>, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, readme, lib) in crates {
        let Some(readme) = readme else {
            problems.push(format!("{name}: no README.md"));
            continue;
        };
        let included = lib
            .find("include_str!(\"../README.md\")")
            .is_some_and(|at| {
                lib[at..]
                    .lines()
                    .take(3)
                    .any(|l| l.contains("cfg(doctest)"))
            });
        if !included {
            problems.push(format!(
                "{name}: lib.rs does not compile README.md as doctests"
            ));
        }
        let compiled_example = readme
            .lines()
            .map(str::trim_start)
            .filter_map(|line| line.strip_prefix("```"))
            .step_by(2)
            .any(|info| {
                let info = info.trim();
                (info.is_empty() || info.starts_with("rust")) && !info.contains("ignore")
            });
        if !compiled_example {
            problems.push(format!("{name}: README.md has no compiled Rust example"));
        }
    }
    problems
}

fn public_type_name(line: &str) -> Option<&str> {
    let rest = line
        .trim_start()
        .strip_prefix("pub struct ")
        .or_else(|| line.trim_start().strip_prefix("pub enum "))?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn is_crate_source(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains("/crates/") && text.contains("/src/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn sources() -> Vec<(PathBuf, String)> {
        let root = workspace();
        let mut files = rust_files(&root.join("crates"));
        files.extend(rust_files(&root.join("benches")));
        files.extend(rust_files(&root.join("xtask")));
        files
            .into_iter()
            .filter_map(|p| fs::read_to_string(&p).ok().map(|t| (p, t)))
            .collect()
    }

    #[test]
    fn architecture_cites_only_tests_that_exist() {
        let text = fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap_or_default();
        assert!(
            !cited_tests(&text).is_empty(),
            "ARCHITECTURE.md cites its tests"
        );
        let missing = missing_tests(&text, &sources());
        assert!(
            missing.is_empty(),
            "ARCHITECTURE.md cites missing tests: {missing:?}"
        );
    }

    #[test]
    fn architecture_cites_only_files_that_exist() {
        let text = fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap_or_default();
        let missing = missing_files(&text, &workspace());
        assert!(
            missing.is_empty(),
            "ARCHITECTURE.md cites missing files: {missing:?}"
        );
    }

    #[test]
    fn a_cited_file_that_does_not_exist_is_named() {
        let doc = "- x. Enforced by `xtask/src/tidy.rs`, `xtask/src/ghost.rs`, `a::b`.\n";
        assert_eq!(
            missing_files(doc, &workspace()),
            vec!["xtask/src/ghost.rs".to_string()]
        );
        assert_eq!(cited_tests(doc), vec!["a::b".to_string()]);
    }

    #[test]
    fn every_crate_module_has_a_module_doc() {
        let missing = undocumented_modules(&sources());
        assert!(
            missing.is_empty(),
            "modules without a `//!` doc: {missing:?}"
        );
    }

    #[test]
    fn no_library_module_is_over_400_lines() {
        let found = oversized_modules(&sources());
        assert!(found.is_empty(), "split by concept: {found:?}");
    }

    #[test]
    fn public_error_and_response_types_are_non_exhaustive() {
        let found = exhaustive_public_types(&sources());
        assert!(found.is_empty(), "add #[non_exhaustive]: {found:?}");
    }

    #[test]
    fn every_library_crate_has_a_readme_compiled_as_doctests() {
        let mut crates = Vec::new();
        for entry in fs::read_dir(workspace().join("crates"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(lib) = fs::read_to_string(entry.path().join("src/lib.rs")) else {
                continue;
            };
            let readme = fs::read_to_string(entry.path().join("README.md")).ok();
            crates.push((
                entry.file_name().to_string_lossy().into_owned(),
                readme,
                lib,
            ));
        }
        assert!(
            crates.len() >= 6,
            "read every library crate: {}",
            crates.len()
        );
        let problems = readme_problems(&crates);
        assert!(problems.is_empty(), "{problems:#?}");

        // And the check sees each way to fail.
        let lib = "#[doc = include_str!(\"../README.md\")]\n#[cfg(doctest)]\npub struct R;";
        let good = "# x\n```sh\ncargo run\n```\n```rust\nfn main() {}\n```\n".to_string();
        let ignored = "```rust,ignore\nfn main() {}\n```\n".to_string();
        let cases = vec![
            ("good".to_string(), Some(good.clone()), lib.to_string()),
            ("missing".to_string(), None, lib.to_string()),
            ("ignored".to_string(), Some(ignored), lib.to_string()),
            (
                "unincluded".to_string(),
                Some(good),
                "pub struct R;".to_string(),
            ),
        ];
        assert_eq!(
            readme_problems(&cases),
            vec![
                "missing: no README.md".to_string(),
                "ignored: README.md has no compiled Rust example".to_string(),
                "unincluded: lib.rs does not compile README.md as doctests".to_string(),
            ]
        );
    }

    #[test]
    fn the_checks_catch_what_they_claim() {
        let sources =
            vec![
            (
                PathBuf::from("/w/crates/a/src/lib.rs"),
                "pub struct BadError;\n#[non_exhaustive]\npub enum GoodError {}\nfn real_test() {}"
                    .to_string(),
            ),
            (PathBuf::from("/w/crates/a/src/nodoc.rs"), "fn x() {}".to_string()),
            (
                PathBuf::from("/w/crates/a/src/long.rs"),
                "//! Long.\n".repeat(MAX_SOURCE_LINES + 1),
            ),
            (
                PathBuf::from("/w/crates/a/src/m/tests.rs"),
                "//! Tests.\n".repeat(MAX_SOURCE_LINES + 1),
            ),
        ];
        let doc = "- x. Enforced by `a::real_test`, `a::ghost_test`.\n";
        assert_eq!(
            missing_tests(doc, &sources),
            vec!["a::ghost_test".to_string()]
        );
        assert_eq!(undocumented_modules(&sources).len(), 2);
        assert_eq!(
            oversized_modules(&sources),
            vec![format!(
                "/w/crates/a/src/long.rs: {} lines",
                MAX_SOURCE_LINES + 1
            )]
        );
        assert_eq!(
            exhaustive_public_types(&sources),
            vec!["/w/crates/a/src/lib.rs: BadError".to_string()]
        );
    }
}
