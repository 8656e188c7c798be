//! One crate is enough: every type a public signature of `meridian-driver` names — and,
//! transitively, every type those types' own public signatures name — is re-exported by
//! the driver, and its docs and README use only `meridian_driver::` paths.
//!
//! A source scan, not a compiler query: for each type the driver exports, the "signature
//! text" is the body of its `pub struct`/`pub enum`, the headers of its `impl` blocks and
//! the signatures of their `pub fn`s. Identifiers in that text that name a public type of
//! a crate below the driver must be in the driver's `pub use` list.

use std::collections::{BTreeMap, BTreeSet};

/// The crates under the driver whose types its users must be able to name.
pub(crate) const FOREIGN: [&str; 3] = [
    "meridian_runtime",
    "meridian_location_store",
    "meridian_refresh_core",
];

/// Public type names (`pub struct|enum|trait|type X`) defined in `sources`.
pub(crate) fn public_types(sources: &[String]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for text in sources {
        for line in code_lines(text) {
            let line = line.trim_start();
            for kw in ["pub struct ", "pub enum ", "pub trait ", "pub type "] {
                if let Some(rest) = line.strip_prefix(kw) {
                    names.insert(ident_at(rest).to_string());
                }
            }
        }
    }
    names.remove("");
    names
}

/// Names the driver's `lib.rs` makes public (`pub use` lists and `pub struct` in lib.rs).
pub(crate) fn exported_names(lib: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_use = false;
    for line in code_lines(lib) {
        let trimmed = line.trim();
        if trimmed.starts_with("pub use ") {
            in_use = true;
        }
        if in_use {
            let list = trimmed.rsplit("::").next().unwrap_or(trimmed);
            let list = if trimmed.contains('{') {
                trimmed.split_once('{').map_or(list, |(_, rest)| rest)
            } else {
                list
            };
            for word in words(list) {
                names.insert(word.to_string());
            }
            if trimmed.ends_with(';') {
                in_use = false;
            }
        }
    }
    names
}

/// The public signature text of type `name` in `text`: its definition's body, the headers
/// of its `impl` blocks, and the signatures of their `pub fn`s.
pub(crate) fn signature_text(text: &str, name: &str) -> String {
    let code: Vec<&str> = code_lines(text).collect();
    let mut out = String::new();
    let mut i = 0;
    while i < code.len() {
        let line = code[i].trim_start();
        let defines = ["pub struct ", "pub enum "]
            .iter()
            .any(|kw| line.strip_prefix(kw).is_some_and(|r| ident_at(r) == name));
        let implements = line.starts_with("impl") && impl_self_type(line) == name;
        if defines || implements {
            let end = block_end(&code, i);
            for (j, body_line) in code[i..end].iter().enumerate() {
                let t = body_line.trim_start();
                if defines || j == 0 {
                    out.push_str(t);
                    out.push('\n');
                } else if t.starts_with("pub fn ")
                    || t.starts_with("pub async fn ")
                    || t.starts_with("pub const fn ")
                {
                    // The signature runs to the body's `{` or a `;`.
                    for sig in &code[i + j..end] {
                        let s = sig.split('{').next().unwrap_or(sig);
                        out.push_str(s);
                        out.push('\n');
                        if sig.contains('{') || sig.contains(';') {
                            break;
                        }
                    }
                }
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Types of the crates in `foreign` (name → defining sources) that the exported driver
/// types name, transitively, and that `lib.rs` does not re-export. A type the driver's own
/// signatures name must be re-exported by name; one named only by another crate's types
/// may instead be reached through a crate alias (`pub use meridian_runtime as runtime;`).
pub(crate) fn unnameable(
    driver: &[String],
    lib: &str,
    foreign: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let exported = exported_names(lib);
    let local = public_types(driver);
    let foreign_types: BTreeMap<String, (&String, &Vec<String>)> = foreign
        .iter()
        .flat_map(|(krate, sources)| {
            public_types(sources)
                .into_iter()
                .map(move |name| (name, (krate, sources)))
        })
        .collect();
    // `pub use meridian_runtime as runtime;`: every type of that crate is nameable as
    // `meridian_driver::runtime::T`.
    let aliased: BTreeSet<&String> = foreign
        .keys()
        .filter(|krate| {
            code_lines(lib).any(|l| l.trim().starts_with(&format!("pub use {krate} as ")))
        })
        .collect();
    let mut needed: BTreeSet<String> = BTreeSet::new();
    let mut work: Vec<String> = Vec::new();
    for name in exported.iter().filter(|n| local.contains(*n)) {
        let text: String = driver.iter().map(|t| signature_text(t, name)).collect();
        for word in words(&text) {
            if !local.contains(word)
                && foreign_types.contains_key(word)
                && needed.insert(word.to_string())
            {
                work.push(word.to_string());
            }
        }
    }
    // Named by the driver's own signatures: must be re-exported flat.
    let direct = needed.clone();
    while let Some(name) = work.pop() {
        let Some((_, sources)) = foreign_types.get(&name) else {
            continue;
        };
        let text: String = sources.iter().map(|t| signature_text(t, &name)).collect();
        for word in words(&text) {
            if foreign_types.contains_key(word) && needed.insert(word.to_string()) {
                work.push(word.to_string());
            }
        }
    }
    needed
        .into_iter()
        .filter(|name| !exported.contains(name))
        .filter(|name| {
            direct.contains(name)
                || foreign_types
                    .get(name)
                    .is_none_or(|(krate, _)| !aliased.contains(krate))
        })
        .collect()
}

/// Doc comments (`///`, `//!`) and README lines that spell a lower crate's path.
pub(crate) fn foreign_paths_in_docs(file: &str, text: &str, readme: bool) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let t = line.trim_start();
            readme || t.starts_with("///") || t.starts_with("//!")
        })
        .filter(|(_, line)| FOREIGN.iter().any(|c| line.contains(&format!("{c}::"))))
        .map(|(n, line)| format!("{file}:{}: {}", n + 1, line.trim()))
        .collect()
}

/// Lines that are code: comments dropped (`//` to the end of the line).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
}

/// The identifier `rest` starts with.
fn ident_at(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Identifiers in `text`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// The self type of an `impl` header: the last path segment's name after `for`, or after
/// the generics of `impl<...>`.
fn impl_self_type(line: &str) -> &str {
    let head = line.split('{').next().unwrap_or(line);
    let after = match head.rsplit_once(" for ") {
        Some((_, ty)) => ty,
        None => {
            let rest = head.strip_prefix("impl").unwrap_or(head);
            skip_generics(rest)
        }
    };
    let ty = after.trim().split('<').next().unwrap_or("");
    ty.rsplit("::").next().unwrap_or("")
}

fn skip_generics(rest: &str) -> &str {
    if !rest.starts_with('<') {
        return rest;
    }
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return &rest[i + 1..];
                }
            }
            _ => {}
        }
    }
    ""
}

/// The index one past the line closing the block opened at or after line `start` (or
/// the item's end at a `;` before any `{`).
fn block_end(code: &[&str], start: usize) -> usize {
    let mut depth = 0i32;
    let mut opened = false;
    for (i, line) in code.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                ';' if !opened && depth == 0 => return i + 1,
                _ => {}
            }
        }
        if opened && depth <= 0 {
            return i + 1;
        }
    }
    code.len()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::tidy::rust_files;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn read_all(dir: &Path) -> Vec<String> {
        rust_files(dir)
            .into_iter()
            .filter_map(|p| fs::read_to_string(p).ok())
            .collect()
    }

    #[test]
    fn every_public_type_is_nameable_through_the_driver_crate() {
        let root = workspace();
        let driver_src = root.join("crates/driver/src");
        let driver = read_all(&driver_src);
        let lib = fs::read_to_string(driver_src.join("lib.rs")).unwrap_or_default();
        let foreign: BTreeMap<String, Vec<String>> = [
            ("meridian_runtime", "runtime"),
            ("meridian_location_store", "location-store"),
            ("meridian_refresh_core", "refresh-core"),
        ]
        .into_iter()
        .map(|(name, dir)| {
            let src = read_all(&root.join("crates").join(dir).join("src"));
            (name.to_string(), src)
        })
        .collect();
        assert!(!driver.is_empty() && foreign.values().all(|s| !s.is_empty()));
        let missing = unnameable(&driver, &lib, &foreign);
        assert!(
            missing.is_empty(),
            "types in meridian-driver's public API that it does not re-export: {missing:?}"
        );
        let mut paths = Vec::new();
        for file in rust_files(&driver_src) {
            let text = fs::read_to_string(&file).unwrap_or_default();
            paths.extend(foreign_paths_in_docs(
                &file.display().to_string(),
                &text,
                false,
            ));
        }
        let readme = fs::read_to_string(root.join("crates/driver/README.md")).unwrap_or_default();
        paths.extend(foreign_paths_in_docs(
            "crates/driver/README.md",
            &readme,
            true,
        ));
        assert!(
            paths.is_empty(),
            "driver docs must use only meridian_driver:: paths: {paths:#?}"
        );
    }

    #[test]
    fn the_nameable_check_names_what_is_missing() {
        let driver = vec![
            "pub struct Driver { pub policy: RetryPolicy }\n\
             impl Driver {\n    pub fn account(&self) -> DatabaseAccount {\n        todo()\n    }\n}\n"
                .to_string(),
        ];
        let lib = "pub use driver::Driver;\npub use meridian_location_store::{RetryPolicy};\n";
        let foreign: BTreeMap<String, Vec<String>> = [(
            "meridian_location_store".to_string(),
            vec![
                "pub struct RetryPolicy {}\nimpl RetryPolicy {\n    pub fn with(b: Backoff) -> Self {\n    }\n}\n\
                 pub struct DatabaseAccount {}\npub struct Backoff {}\npub struct Hidden {}\n"
                    .to_string(),
            ],
        )]
        .into_iter()
        .collect();
        assert_eq!(
            unnameable(&driver, lib, &foreign),
            vec!["Backoff".to_string(), "DatabaseAccount".to_string()]
        );
        let doc = "/// let x = meridian_runtime::Runtime::builder();\n";
        assert_eq!(foreign_paths_in_docs("a.rs", doc, false).len(), 1);
    }
}
