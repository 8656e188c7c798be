//! The module graph inside each crate, read from the source text: which module's code names
//! which other module (`use crate::…`, `use super::…`, child-module paths and fully qualified
//! paths in code), and the cycles in it.
//!
//! The rule (ARCHITECTURE.md, Workspace): the modules of one crate form a graph that only
//! points down — no file can be read, tested or changed alone if it sits in a circle. Test
//! code is left out (`tests.rs` files and the `#[cfg(test)] mod …` block that ends a file),
//! as are comments. A path through the crate root's re-exports (`crate::Name`) counts as an
//! edge to the module that defines `Name`; the root itself (`lib.rs`, `main.rs`) is the
//! facade that declares everything and is no node.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module of a crate: its path below the root (`["query", "exec"]`) and its source.
struct Module {
    file: PathBuf,
    path: Vec<String>,
    code: String,
}

/// Every cycle among the modules of the crate whose sources are `files` (paths below
/// `src`, e.g. `src/query/exec.rs`, with their text): each as the files in it, sorted.
#[cfg(test)]
pub(crate) fn cycles(files: &[(PathBuf, String)]) -> Vec<Vec<PathBuf>> {
    cycles_with_ties(files)
        .into_iter()
        .map(|(files, _)| files)
        .collect()
}

/// Every module cycle of the crate, each with the ties inside it:
/// `src/a.rs → src/b.rs (crate::b::B)`, one per pair of files, naming the first path that
/// makes the edge.
pub(crate) fn cycles_with_ties(files: &[(PathBuf, String)]) -> Vec<(Vec<PathBuf>, Vec<String>)> {
    let graph = Graph::read(files);
    strongly_connected(&graph.edges)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let mut files: Vec<PathBuf> = component
                .iter()
                .map(|&i| graph.modules[i].file.clone())
                .collect();
            files.sort();
            let mut inside: Vec<String> = graph
                .ties
                .iter()
                .filter(|((a, b), _)| component.contains(a) && component.contains(b))
                .map(|(_, tie)| tie.clone())
                .collect();
            inside.sort();
            (files, inside)
        })
        .collect()
}

/// The crate's top-level modules in layers, leaves first: each module only names modules
/// of earlier layers (a module in a cycle is left out). Submodules belong to their parent.
pub(crate) fn top_level_order(files: &[(PathBuf, String)]) -> Vec<Vec<String>> {
    let graph = Graph::read(files);
    let top: Vec<usize> = (0..graph.modules.len())
        .filter(|&i| graph.modules[i].path.len() == 1)
        .collect();
    let mut layer_of: BTreeMap<usize, usize> = BTreeMap::new();
    let mut layers: Vec<Vec<String>> = Vec::new();
    let mut placed = true;
    while placed {
        placed = false;
        for &i in &top {
            if layer_of.contains_key(&i) {
                continue;
            }
            let below: Option<Vec<usize>> = graph.edges[i]
                .iter()
                .map(|to| layer_of.get(to).copied())
                .collect();
            if let Some(below) = below {
                let layer = below.iter().map(|l| l + 1).max().unwrap_or(0);
                layer_of.insert(i, layer);
                placed = true;
            }
        }
    }
    for (&i, &layer) in &layer_of {
        if layers.len() <= layer {
            layers.resize(layer + 1, Vec::new());
        }
        layers[layer].push(graph.modules[i].path.join("::"));
    }
    for layer in &mut layers {
        layer.sort();
    }
    layers
}

/// A crate's modules and the edges between sibling units.
struct Graph {
    modules: Vec<Module>,
    edges: Vec<BTreeSet<usize>>,
    ties: BTreeMap<(usize, usize), String>,
}

impl Graph {
    fn read(files: &[(PathBuf, String)]) -> Self {
        let mut root_exports = BTreeMap::new();
        let mut modules = Vec::new();
        for (file, text) in files {
            let Some(path) = module_path(file) else {
                continue;
            };
            let code = without_tests(&strip_comments(text));
            if path.is_empty() {
                root_exports.extend(reexports(&code));
            } else {
                modules.push(Module {
                    file: file.clone(),
                    path,
                    code,
                });
            }
        }
        let known: BTreeSet<&[String]> = modules.iter().map(|m| m.path.as_slice()).collect();
        let index: BTreeMap<&[String], usize> = modules
            .iter()
            .enumerate()
            .map(|(i, m)| (m.path.as_slice(), i))
            .collect();
        let mut edges = vec![BTreeSet::new(); modules.len()];
        let mut ties = BTreeMap::new();
        for module in &modules {
            for (written, target) in referenced_paths(module, &known) {
                let Some(target) = resolve(&target, &known, &root_exports) else {
                    continue;
                };
                // A module and its submodules are one unit: an edge between two modules
                // counts between the siblings under their common parent that hold them,
                // and an edge into one's own ancestor or descendant does not count.
                let common = module
                    .path
                    .iter()
                    .zip(&target)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common == module.path.len() || common == target.len() {
                    continue;
                }
                let from = index.get(&module.path[..=common]);
                let to = index.get(&target[..=common]);
                if let (Some(&from), Some(&to)) = (from, to) {
                    edges[from].insert(to);
                    ties.entry((from, to)).or_insert_with(|| {
                        format!(
                            "{} → {} ({written})",
                            module.file.display(),
                            modules[to].file.display()
                        )
                    });
                }
            }
        }
        Self {
            modules,
            edges,
            ties,
        }
    }
}

/// Each crate under `root/crates/` by directory name, with its sources below `src`
/// (paths relative to the crate, e.g. `src/query/exec.rs`).
pub(crate) fn crate_sources(root: &Path) -> Vec<(String, Vec<(PathBuf, String)>)> {
    let mut crates = Vec::new();
    let Ok(entries) = std::fs::read_dir(root.join("crates")) else {
        return crates;
    };
    for entry in entries.flatten() {
        let files = crate::tidy::rust_files(&entry.path().join("src"))
            .into_iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).ok()?;
                let relative = p.strip_prefix(entry.path()).ok()?.to_path_buf();
                Some((relative, text))
            })
            .collect();
        crates.push((entry.file_name().to_string_lossy().into_owned(), files));
    }
    crates.sort_by(|a, b| a.0.cmp(&b.0));
    crates
}

/// Every crate's top-level module layers as ARCHITECTURE.md shows them: `name:` then one
/// `  i: a, b` line per layer.
pub(crate) fn layers_text(crates: &[(String, Vec<(PathBuf, String)>)]) -> String {
    let mut text = String::new();
    for (name, files) in crates {
        text.push_str(&format!("{name}:\n"));
        for (i, layer) in top_level_order(files).iter().enumerate() {
            text.push_str(&format!("  {i}: {}\n", layer.join(", ")));
        }
    }
    text
}

/// `src/a/b.rs` and `src/a/b/mod.rs` → `["a", "b"]`; the crate roots → `[]`; `None` for
/// test-only files and files outside `src`.
fn module_path(file: &Path) -> Option<Vec<String>> {
    let parts: Vec<String> = file
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let src = parts.iter().rposition(|p| p == "src")?;
    let mut path: Vec<String> = parts[src + 1..].to_vec();
    let last = path.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if stem == "tests" || path.iter().any(|p| p == "tests" || p == "bin") {
        return None;
    }
    match stem {
        "lib" | "main" if path.is_empty() => {}
        "mod" => {}
        _ => path.push(stem.to_string()),
    }
    Some(path)
}

/// The source without comments (doc comments included), with string and character
/// literals blanked so nothing inside them reads as a path.
fn strip_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && at(i + 1) == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && at(i + 1) == '#' && at(i + 2) == '"' {
            i += 3;
            while i < chars.len() && !(chars[i] == '"' && at(i + 1) == '#') {
                i += 1;
            }
            out.push_str("\"\"");
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            out.push_str("' '");
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The code before a `#[cfg(test)]` that opens a `mod` (unit tests end a file here).
fn without_tests(code: &str) -> String {
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let start = from + at;
        let rest = code[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") && !rest.starts_with("mod tests;") {
            return code[..start].to_string();
        }
        from = start + 1;
    }
    code.to_string()
}

/// `pub use a::b::{C, D as E};` in a crate root → `C → [a, b, C]`, `E → [a, b, D]`.
fn reexports(code: &str) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for tree in use_trees(code) {
        for path in expand(&tree) {
            let (path, alias) = match path.split_once(" as ") {
                Some((p, a)) => (p.to_string(), a.trim().to_string()),
                None => (path.clone(), path.rsplit("::").next().unwrap_or("").into()),
            };
            let segments: Vec<String> = path.split("::").map(str::to_string).collect();
            map.insert(alias, segments);
        }
    }
    map
}

/// The trees of every `use` item, whitespace removed except around `as`.
fn use_trees(code: &str) -> Vec<String> {
    let mut trees = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        let boundary = code[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let end = code[start..].find(';').map_or(code.len(), |e| start + e);
        if boundary {
            let tree: String = code[start + 4..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            trees.push(
                tree.replace(" :: ", "::")
                    .replace(", ", ",")
                    .replace("{ ", "{"),
            );
        }
        from = start + 4;
    }
    trees
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim().trim_end_matches(',').replace(" }", "}");
    let Some(open) = tree.find('{') else {
        return vec![tree.trim().to_string()];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p.trim()))
        .map(|p| match p.as_str() {
            "self" => prefix.trim_end_matches("::").to_string(),
            _ => format!("{prefix}{p}"),
        })
        .collect()
}

/// Every module-relative or crate-relative path `module` names, made absolute.
fn referenced_paths(module: &Module, known: &BTreeSet<&[String]>) -> Vec<(String, Vec<String>)> {
    let children: BTreeSet<&str> = known
        .iter()
        .filter(|p| p.len() == module.path.len() + 1 && p.starts_with(&module.path))
        .filter_map(|p| p.last().map(String::as_str))
        .collect();
    let mut found = Vec::new();
    let mut paths: Vec<String> = use_trees(&module.code)
        .iter()
        .flat_map(|t| expand(t))
        .collect();
    paths.extend(code_paths(&module.code));
    for path in paths {
        let path = path.split(" as ").next().unwrap_or("").trim();
        let segments: Vec<&str> = path.split("::").collect();
        let mut absolute: Vec<String> = match segments.first() {
            Some(&"crate") => Vec::new(),
            Some(&"self") => module.path.clone(),
            Some(&"super") => module.path.clone(),
            Some(first) if children.contains(first) => module.path.clone(),
            _ => continue,
        };
        let mut rest = &segments[..];
        if segments.first() == Some(&"crate") || segments.first() == Some(&"self") {
            rest = &segments[1..];
        }
        while rest.first() == Some(&"super") {
            absolute.pop();
            rest = &rest[1..];
        }
        absolute.extend(rest.iter().map(|s| s.to_string()));
        found.push((path.to_string(), absolute));
    }
    found
}

/// Paths written in code (not in `use`) that start with `crate::`, `super::`, `self::` or
/// an identifier followed by `::`.
fn code_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            let start = i;
            let mut end = i;
            loop {
                while end < bytes.len() && ident(bytes[end]) {
                    end += 1;
                }
                if code[end..].starts_with("::") && bytes.get(end + 2).is_some_and(|&b| ident(b)) {
                    end += 2;
                } else {
                    break;
                }
            }
            if code[start..end].contains("::") {
                paths.push(code[start..end].to_string());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// The module an absolute path lands in: the longest known module prefix, or — for a name
/// the crate root re-exports — the module it comes from.
fn resolve(
    path: &[String],
    known: &BTreeSet<&[String]>,
    root_exports: &BTreeMap<String, Vec<String>>,
) -> Option<Vec<String>> {
    let longest = (1..=path.len())
        .rev()
        .find(|&n| known.contains(&path[..n]))
        .map(|n| path[..n].to_vec());
    if longest.is_some() {
        return longest;
    }
    let first = path.first()?;
    let exported = root_exports.get(first)?;
    (1..=exported.len())
        .rev()
        .find(|&n| known.contains(&exported[..n]))
        .map(|n| exported[..n].to_vec())
}

/// The files of a cycle as one line: `src/a.rs ↔ src/b.rs`.
pub(crate) fn named(cycle: &[PathBuf]) -> String {
    cycle
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ↔ ")
}

/// Tarjan's strongly connected components of a graph given as adjacency sets.
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct Walk<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        components: Vec<Vec<usize>>,
    }
    fn visit(walk: &mut Walk<'_>, v: usize) {
        walk.index[v] = Some(walk.next);
        walk.low[v] = walk.next;
        walk.next += 1;
        walk.stack.push(v);
        walk.on_stack[v] = true;
        for &w in walk.edges[v].iter() {
            match walk.index[w] {
                None => {
                    visit(walk, w);
                    walk.low[v] = walk.low[v].min(walk.low[w]);
                }
                Some(index) if walk.on_stack[w] => walk.low[v] = walk.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(walk.low[v]) == walk.index[v] {
            let mut component = Vec::new();
            while let Some(w) = walk.stack.pop() {
                walk.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            walk.components.push(component);
        }
    }
    let n = edges.len();
    let mut walk = Walk {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if walk.index[v].is_none() {
            visit(&mut walk, v);
        }
    }
    walk.components
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_crate_has_a_module_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let crates = crate_sources(&root);
        assert!(crates.len() >= 6, "read every crate: {}", crates.len());
        let mut found = Vec::new();
        for (name, files) in &crates {
            assert!(!files.is_empty(), "{name} has sources");
            for (cycle, ties) in cycles_with_ties(files) {
                found.push(format!(
                    "{name}: {}\n    {}",
                    named(&cycle),
                    ties.join("\n    ")
                ));
            }
        }
        assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
    }

    #[test]
    fn architecture_shows_each_crates_module_layers() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let architecture =
            std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
        let shown: String = architecture
            .lines()
            .map(|line| line.strip_prefix("  ").unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        let layers = layers_text(&crate_sources(&root));
        assert!(
            shown.contains(layers.trim_end()),
            "ARCHITECTURE.md (Workspace) must show the module layers `cargo xtask modules` \
             prints:\n{layers}"
        );
    }

    #[test]
    fn a_module_cycle_is_named_with_its_files() {
        let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
        let files = vec![
            file(
                "src/lib.rs",
                "mod a; mod b; mod c; mod d;\npub use d::Leaf;\n",
            ),
            // a → b through `use crate::…`, b → c through a fully qualified path in
            // code, c → a through `super::`.
            file(
                "src/a.rs",
                "//! A.\nuse crate::{b::B, Leaf};\npub struct A;\n",
            ),
            file(
                "src/b.rs",
                "//! B.\npub struct B;\nfn f() { crate::c::g(); }\n",
            ),
            file("src/c.rs", "//! C.\nuse super::a::A;\npub fn g() {}\n"),
            // d is a leaf others use through the root's re-export; its own test module
            // names `a`, which is test code and no edge.
            file(
                "src/d.rs",
                "//! D. Not `crate::a` in a comment.\npub struct Leaf;\n\
                 const S: &str = \"crate::a::A\";\n\
                 #[cfg(test)]\nmod tests { use crate::a::A; }\n",
            ),
            file("src/d/tests.rs", "use crate::a::A;\n"),
        ];
        let cycles = cycles(&files);
        assert_eq!(
            cycles,
            vec![vec![
                PathBuf::from("src/a.rs"),
                PathBuf::from("src/b.rs"),
                PathBuf::from("src/c.rs"),
            ]]
        );
        assert_eq!(named(&cycles[0]), "src/a.rs ↔ src/b.rs ↔ src/c.rs");
        // Break the circle at c and nothing is left.
        let mut fixed = files.clone();
        fixed[3] = file("src/c.rs", "//! C.\nuse crate::Leaf;\npub fn g() {}\n");
        assert!(super::cycles(&fixed).is_empty());
    }
}
