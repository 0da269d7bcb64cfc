//! `tidy`: the design's structural rules, checked on the source tree so
//! they stay true without anyone remembering them (DESIGN.md "Layout").
//!
//! - Dependencies point one way: the tools (`croupier-admin`,
//!   `croupier-loadtest`) use the server only through `croupier-protocol`
//!   (plus the engine and journal for offline work), never
//!   `croupier-gateway`; the protocol crate links no HTTP stack or async
//!   runtime, and of the engine only its value types (`croupier-engine-core`); the journal depends on no other workspace crate; the pure
//!   ledger reaches no runtime module (sequencer, durability, snapshots,
//!   records, the journal).
//! - The server is a composition root over module crates: an API module
//!   (any crate under `gateway/` but the server, `protocol/`, `edge/` and
//!   `readmodel/`) stands on the edge, protocol, read models, engine and
//!   journal only, never on the server or another module; the edge depends
//!   on no module and not on the server.
//! - No import cycles between the top-level modules of a crate under
//!   `gateway/` (the server had a nine-module one before it was split).
//! - The pure ledger reads no clock, touches no file, spawns no thread and
//!   draws no random number.
//! - Every source file opens with a `//!` comment saying why it exists.
//!
//! It lives among the gateway's tests because that is the crate that sees
//! the whole workspace, and it is cheap: it reads files, runs nothing. Each
//! rule is a pure function of (path, text) with a unit test below showing
//! that it fires. The purity rules read `engine/core/`, the pure ledger's
//! crate.

use std::path::{Path, PathBuf};

/// One broken rule: where, which rule, what was found.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    path: String,
    rule: &'static str,
    detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: [{}] {}", self.path, self.rule, self.detail)
    }
}

// ---------------------------------------------------------------- dependencies

/// Workspace crates a tool may depend on (normal dependencies).
const TOOL_MAY_USE: &[&str] = &["croupier-protocol", "croupier-engine", "croupier-journal"];
/// The tools.
const TOOLS: &[&str] = &["croupier-admin", "croupier-loadtest"];
/// Workspace crates the load tester may depend on: it speaks to a server
/// over the wire only, like any client (the in-process sequencer load is a
/// bench).
const LOADTEST_MAY_USE: &[&str] = &["croupier-protocol"];
/// What the protocol crate must not link: the server, the engine's runtime
/// (its value types are in `croupier-engine-core`), HTTP stacks, runtimes.
const PROTOCOL_MUST_NOT_USE: &[&str] = &[
    "croupier-gateway",
    "croupier-engine",
    "croupier-journal",
    "axum",
    "hyper",
    "hyper-util",
    "tokio",
    "quinn",
    "h3",
    "h3-quinn",
    "tower",
    "tower-http",
    "reqwest",
];

/// Workspace crates the edge may depend on: the layers below it.
const EDGE_MAY_USE: &[&str] = &[
    "croupier-protocol",
    "croupier-readmodel",
    "croupier-engine",
    "croupier-engine-core",
    "croupier-journal",
];
/// Workspace crates an API module may depend on: the edge and what it may.
const MODULE_MAY_USE: &[&str] = &[
    "croupier-edge",
    "croupier-protocol",
    "croupier-readmodel",
    "croupier-engine",
    "croupier-engine-core",
    "croupier-journal",
];
/// The crates under `gateway/` that are not API modules: the server (the
/// composition root) and the layers the modules stand on.
const GATEWAY_LAYERS: &[&str] = &[
    "gateway/Cargo.toml",
    "gateway/protocol/Cargo.toml",
    "gateway/edge/Cargo.toml",
    "gateway/readmodel/Cargo.toml",
];

/// Whether the manifest at `path` (relative to the workspace root) is an
/// API module's: any crate under `gateway/` but the server and its layers,
/// so a module added later is checked without being listed here.
fn is_module(path: &str) -> bool {
    path.starts_with("gateway/") && !GATEWAY_LAYERS.contains(&path)
}

/// The dependency names (after `package = ` renames) of one table kind:
/// `dependencies`, `dev-dependencies` or `build-dependencies`, target
/// specific ones included.
fn dependency_names(manifest: &toml::Table, kind: &str) -> Vec<String> {
    let mut tables: Vec<&toml::Table> = manifest.get(kind).and_then(|t| t.as_table()).into_iter().collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values() {
            tables.extend(target.get(kind).and_then(|t| t.as_table()));
        }
    }
    let mut names = Vec::new();
    for table in tables {
        for (key, value) in table {
            let renamed = value.get("package").and_then(|p| p.as_str());
            names.push(renamed.unwrap_or(key).to_owned());
        }
    }
    names
}

/// Checks one member's manifest against the dependency direction.
/// `workspace` holds every workspace crate's package name.
fn check_manifest(path: &str, text: &str, workspace: &[String]) -> Vec<Violation> {
    let manifest: toml::Table = match toml::from_str(text) {
        Ok(manifest) => manifest,
        Err(error) => return vec![violation(path, "manifest", format!("does not parse: {error}"))],
    };
    let Some(name) = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
    else {
        return vec![violation(path, "manifest", "has no package name".into())];
    };
    let normal = dependency_names(&manifest, "dependencies");
    let mut found = Vec::new();
    if TOOLS.contains(&name) {
        for dep in normal
            .iter()
            .filter(|d| workspace.contains(d) && !TOOL_MAY_USE.contains(&d.as_str()))
        {
            found.push(violation(
                path,
                "tools depend on protocol, engine and journal only",
                format!("{name} depends on {dep}; talk to the server through croupier-protocol (a [dev-dependency] for an end-to-end test is fine)"),
            ));
        }
    }
    if name == "croupier-loadtest" {
        for dep in normal
            .iter()
            .filter(|d| workspace.contains(d) && !LOADTEST_MAY_USE.contains(&d.as_str()))
        {
            found.push(violation(
                path,
                "the load tester depends on protocol only",
                format!("croupier-loadtest depends on {dep}; it loads a server over the wire"),
            ));
        }
    }
    if name == "croupier-protocol" {
        for dep in normal.iter().filter(|d| PROTOCOL_MUST_NOT_USE.contains(&d.as_str())) {
            found.push(violation(
                path,
                "protocol links no server, HTTP stack or runtime",
                format!("croupier-protocol depends on {dep}"),
            ));
        }
    }
    let layered: Option<(&'static str, &[&str])> = if name == "croupier-edge" {
        Some(("the edge depends on no module and not on the server", EDGE_MAY_USE))
    } else if is_module(path) {
        Some((
            "a module depends on edge, protocol, readmodel, engine and journal only",
            MODULE_MAY_USE,
        ))
    } else {
        None
    };
    if let Some((rule, may_use)) = layered {
        // Every kind: a dev-dependency on the server or on another module
        // would be a cycle in the crate graph just the same.
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for dep in dependency_names(&manifest, kind)
                .iter()
                .filter(|d| workspace.contains(d) && !may_use.contains(&d.as_str()))
            {
                found.push(violation(path, rule, format!("{name} has {dep} in [{kind}]")));
            }
        }
    }
    let self_contained = name == "croupier-journal" || name == "croupier-engine-core";
    if self_contained {
        for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for dep in dependency_names(&manifest, kind)
                .iter()
                .filter(|d| workspace.contains(d))
            {
                found.push(violation(
                    path,
                    "journal and pure ledger depend on no workspace crate",
                    format!("{name} has {dep} in [{kind}]"),
                ));
            }
        }
    }
    found
}

/// Everything `root` links according to `Cargo.lock`, itself included.
/// The lock lists a workspace member's dev-dependencies beside its normal
/// ones, so this over-approximates (errs on the strict side).
fn lock_closure(lock: &str, root: &str) -> Result<std::collections::BTreeSet<String>, String> {
    let lock: toml::Table = toml::from_str(lock).map_err(|error| format!("does not parse: {error}"))?;
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .ok_or("has no [[package]]")?;
    let mut edges: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for package in packages {
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or("a package without a name")?;
        let deps = package
            .get("dependencies")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten();
        // Entries are "name" or "name version" when several versions are locked.
        let names = deps.filter_map(|d| d.as_str()).filter_map(|d| d.split(' ').next());
        edges.entry(name).or_default().extend(names);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(name) = stack.pop() {
        if seen.insert(name.to_owned()) {
            stack.extend(edges.get(name).into_iter().flatten());
        }
    }
    Ok(seen)
}

/// What the protocol crate links, directly or not: no server, HTTP stack or runtime.
fn check_protocol_closure(path: &str, lock: &str) -> Vec<Violation> {
    let closure = match lock_closure(lock, "croupier-protocol") {
        Ok(closure) => closure,
        Err(error) => return vec![violation(path, "manifest", error)],
    };
    PROTOCOL_MUST_NOT_USE
        .iter()
        .filter(|dep| closure.contains(**dep))
        .map(|dep| {
            violation(
                path,
                "protocol links no server, HTTP stack or runtime",
                format!("croupier-protocol links {dep} through its dependencies"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- source text

fn violation(path: &str, rule: &'static str, detail: String) -> Violation {
    Violation {
        path: path.to_owned(),
        rule,
        detail,
    }
}

/// The text with `//` comments blanked (line by line; string literals
/// holding `//` lose their tail, which only makes the checks laxer).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `code` not as part of a longer identifier.
fn has_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = code[at + word.len()..].chars().next().is_none_or(|c| !is_ident(c));
        before && after
    })
}

/// Runtime modules of today's engine crate the ledger must not reach.
const RUNTIME_MODULES: &[&str] = &["sequencer", "durable", "snapshot", "snapshotter", "record"];

/// The pure ledger's imports: no `crate::<runtime module>`, also inside a
/// `crate::{…}` group, and no `journal::`.
fn check_ledger_imports(path: &str, text: &str) -> Vec<Violation> {
    let code = code_only(text);
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        // The path after `crate::`, up to the end of the `use` or expression.
        let rest = &code[at + "crate::".len()..];
        let end = rest
            .find(|c: char| !(is_ident(c) || c.is_whitespace() || matches!(c, ':' | '{' | '}' | ',' | '*')))
            .unwrap_or(rest.len());
        let idents = rest[..end].split(|c: char| !is_ident(c)).filter(|s| !s.is_empty());
        let first_segments: Vec<&str> = idents.collect();
        for module in RUNTIME_MODULES {
            if first_segments.first() == Some(module) || (rest.starts_with('{') && first_segments.contains(module)) {
                found.push(violation(
                    path,
                    "the pure ledger depends on no runtime module",
                    format!("uses crate::{module}"),
                ));
            }
        }
    }
    if code
        .match_indices("journal::")
        .any(|(at, _)| code[..at].chars().next_back().is_none_or(|c| !is_ident(c)))
    {
        found.push(violation(
            path,
            "the pure ledger depends on no runtime module",
            "uses journal::".into(),
        ));
    }
    found
}

/// Paths and names that mean I/O, a clock, threads or randomness.
const IMPURE_PATHS: &[&str] = &[
    "std::fs",
    "std::time::SystemTime",
    "std::time::Instant",
    "Instant::now",
    "SystemTime::now",
    "std::thread",
    "rand::",
];

/// The pure ledger: no file system, clock, thread or random number.
fn check_purity(path: &str, text: &str) -> Vec<Violation> {
    let code = code_only(text);
    let mut found = Vec::new();
    for pattern in IMPURE_PATHS {
        let hit = code
            .match_indices(pattern)
            .any(|(at, _)| code[..at].chars().next_back().is_none_or(|c| !is_ident(c)));
        if hit {
            found.push(violation(
                path,
                "the pure ledger does no I/O, reads no clock, spawns no thread, draws no random number",
                format!("uses {pattern}"),
            ));
        }
    }
    // Grouped imports (`use std::time::{Duration, Instant}`) name them bare.
    for name in ["SystemTime", "Instant"] {
        if has_word(&code, name) && !found.iter().any(|v| v.detail.contains(name)) {
            found.push(violation(
                path,
                "the pure ledger does no I/O, reads no clock, spawns no thread, draws no random number",
                format!("names {name}"),
            ));
        }
    }
    found
}

/// Hashers whose output depends on `derive(Hash)`, the toolchain or the
/// process: never for what the ledger stores (fingerprints, digests).
const UNSTABLE_HASHERS: &[&str] = &["FxHasher", "DefaultHasher", "RandomState", "AHasher", "rkyv"];

/// The pure ledger hashes what it stores only through `codec::StableHasher`
/// (or the keyed SipHash of `store::Fingerprinter`) over canonical bytes,
/// and encodes only through `codec`: never a layout-dependent format.
fn check_stable_hashing(path: &str, text: &str) -> Vec<Violation> {
    let code = code_only(text);
    UNSTABLE_HASHERS
        .iter()
        .filter(|name| has_word(&code, name))
        .map(|name| {
            violation(
                path,
                "stored fingerprints, digests and formats use the canonical codec, not derive(Hash) or rkyv",
                format!("names {name}"),
            )
        })
        .collect()
}

/// The top-level modules of a crate's `src/` (`x.rs` or `x/mod.rs`),
/// without the crate roots.
fn top_modules(files: &[(String, String)]) -> Vec<String> {
    let mut modules: Vec<String> = files.iter().filter_map(|(path, _)| top_module(path)).collect();
    modules.sort();
    modules.dedup();
    modules
}

/// The top-level module a file of `src/` belongs to (`path` relative to
/// `src/`), or `None` for a crate root.
fn top_module(path: &str) -> Option<String> {
    let first = path.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!["lib", "main"].contains(&name)).then(|| name.to_owned())
}

/// The top-level modules `code` names through `crate::` (also inside a
/// `crate::{…}` group).
fn crate_references(code: &str, modules: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        let named: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: those after `{` or a `,` at depth 0.
            let mut names = Vec::new();
            let (mut depth, mut start) = (0_usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && is_ident(c) => {
                        let end = group[i..].find(|c: char| !is_ident(c)).map_or(group.len(), |e| i + e);
                        names.push(&group[i..end]);
                        start = false;
                    }
                    _ => {}
                }
            }
            names
        } else {
            rest.split(|c: char| !is_ident(c)).next().into_iter().collect()
        };
        found.extend(
            named
                .into_iter()
                .filter(|name| modules.iter().any(|m| m == name))
                .map(str::to_owned),
        );
    }
    found
}

/// Import cycles between the top-level modules of one crate: `files` are
/// its `src/` files as (path relative to `src/`, text).
fn check_module_cycles(krate: &str, files: &[(String, String)]) -> Vec<Violation> {
    let modules = top_modules(files);
    let mut edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for (path, text) in files {
        let Some(from) = top_module(path) else { continue };
        for to in crate_references(&code_only(text), &modules) {
            if to != from {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // A cycle is an edge a -> b with a path back from b to a; report each
    // cycle once, by its smallest module, as the path it takes.
    let mut found = Vec::new();
    for start in &modules {
        if let Some(cycle) = path_back(&edges, start)
            && cycle.iter().all(|m| m >= start)
        {
            found.push(violation(
                krate,
                "no import cycles between a crate's modules",
                cycle.join(" -> "),
            ));
        }
    }
    found
}

/// A shortest path of `edges` from `start` back to itself, if there is one.
fn path_back(
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    start: &str,
) -> Option<Vec<String>> {
    let mut previous: std::collections::BTreeMap<&str, &str> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                let mut path = vec![start.to_owned()];
                let mut step = at;
                while step != start {
                    path.insert(1, step.to_owned());
                    step = previous[step];
                }
                path.push(start.to_owned());
                return Some(path);
            }
            if !previous.contains_key(next.as_str()) {
                previous.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

/// A source file opens with its `//!` module doc.
fn check_module_doc(path: &str, text: &str) -> Vec<Violation> {
    let first = text.lines().map(str::trim).find(|line| !line.is_empty());
    if first.is_some_and(|line| line.starts_with("//!")) {
        return Vec::new();
    }
    vec![violation(
        path,
        "every module opens with a //! doc saying why it exists",
        "the first line is not a //! comment".into(),
    )]
}

// ---------------------------------------------------------------- the tree

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn members() -> Vec<PathBuf> {
    let manifest: toml::Table = toml::from_str(&read(&root().join("Cargo.toml"))).expect("the root manifest parses");
    let members = manifest["workspace"]["members"].as_array().expect("workspace.members");
    members
        .iter()
        .map(|m| root().join(m.as_str().expect("a member path")))
        .collect()
}

/// The files of the pure ledger: the `engine/core` crate.
fn pure_ledger_files() -> Vec<PathBuf> {
    let core = root().join("engine/core/src");
    assert!(core.is_dir(), "the pure ledger's crate is missing: {}", core.display());
    rust_files(&core)
}

fn report(found: Vec<Violation>) {
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "tidy found {} problem(s):\n{}",
        lines.len(),
        lines.join("\n")
    );
}

#[test]
fn dependencies_point_the_designs_way() {
    let manifests: Vec<(PathBuf, String)> = members()
        .into_iter()
        .map(|m| m.join("Cargo.toml"))
        .map(|p| {
            let text = read(&p);
            (p, text)
        })
        .collect();
    let names: Vec<String> = manifests
        .iter()
        .filter_map(|(_, text)| {
            let manifest: toml::Table = toml::from_str(text).ok()?;
            Some(manifest.get("package")?.get("name")?.as_str()?.to_owned())
        })
        .collect();
    assert!(names.iter().any(|n| n == "croupier-protocol"), "{names:?}");
    let modules = manifests.iter().filter(|(path, _)| is_module(&relative(path))).count();
    assert!(modules >= 2, "only {modules} API module crates found under gateway/");
    let mut found = Vec::new();
    for (path, text) in &manifests {
        found.extend(check_manifest(&relative(path), text, &names));
    }
    found.extend(check_protocol_closure("Cargo.lock", &read(&root().join("Cargo.lock"))));
    for path in pure_ledger_files() {
        found.extend(check_ledger_imports(&relative(&path), &read(&path)));
    }
    report(found);
}

#[test]
fn the_gateways_crates_have_no_module_cycles() {
    let mut found = Vec::new();
    let mut crates = 0;
    for member in members().into_iter().filter(|m| relative(m).starts_with("gateway")) {
        let src = member.join("src");
        let files: Vec<(String, String)> = rust_files(&src)
            .into_iter()
            .map(|path| {
                let text = read(&path);
                (path.strip_prefix(&src).unwrap_or(&path).display().to_string(), text)
            })
            .collect();
        crates += 1;
        found.extend(check_module_cycles(&relative(&member), &files));
    }
    assert!(crates >= 6, "only {crates} gateway crates found");
    report(found);
}

#[test]
fn the_pure_ledger_has_no_clock_files_threads_or_randomness() {
    let files = pure_ledger_files();
    assert!(files.len() > 4, "the pure ledger's files were not found: {files:?}");
    let mut found = Vec::new();
    for path in files {
        found.extend(check_purity(&relative(&path), &read(&path)));
    }
    report(found);
}

#[test]
fn the_pure_ledger_hashes_and_encodes_only_through_the_codec() {
    let mut found = Vec::new();
    for path in pure_ledger_files() {
        found.extend(check_stable_hashing(&relative(&path), &read(&path)));
    }
    report(found);
}

#[test]
fn every_source_file_has_a_module_doc() {
    let mut found = Vec::new();
    let mut count = 0;
    for member in members() {
        for path in rust_files(&member.join("src")) {
            count += 1;
            found.extend(check_module_doc(&relative(&path), &read(&path)));
        }
    }
    assert!(count > 50, "only {count} source files found");
    report(found);
}

// ---------------------------------------------------------------- the rules fire

mod rules {
    use super::*;

    fn workspace() -> Vec<String> {
        [
            "croupier-engine",
            "croupier-journal",
            "croupier-gateway",
            "croupier-protocol",
            "croupier-admin",
            "croupier-edge",
            "croupier-readmodel",
            "croupier-wallet",
            "croupier-operator",
        ]
        .map(String::from)
        .to_vec()
    }

    fn rules_of(found: &[Violation]) -> Vec<&'static str> {
        found.iter().map(|v| v.rule).collect()
    }

    #[test]
    fn a_tool_on_the_gateway_is_refused_but_a_dev_dependency_is_not() {
        let bad = "[package]\nname = \"croupier-admin\"\n[dependencies]\ncroupier-gateway.workspace = true\ncroupier-engine.workspace = true\n";
        let found = check_manifest("admin-cli/Cargo.toml", bad, &workspace());
        assert_eq!(rules_of(&found), ["tools depend on protocol, engine and journal only"]);
        assert_eq!(found[0].path, "admin-cli/Cargo.toml");
        assert!(found[0].to_string().contains("croupier-gateway"), "{}", found[0]);
        // The load tester may not even use the engine.
        let engine = "[package]\nname = \"croupier-loadtest\"\n[dependencies]\ncroupier-protocol.workspace = true\ncroupier-engine.workspace = true\n";
        let found = check_manifest("loadtest/Cargo.toml", engine, &workspace());
        assert_eq!(rules_of(&found), ["the load tester depends on protocol only"]);
        assert!(found[0].to_string().contains("croupier-engine"), "{}", found[0]);
        let renamed = "[package]\nname = \"croupier-admin\"\n[dependencies]\ngw = { package = \"croupier-gateway\", path = \"../gateway\" }\n";
        assert_eq!(check_manifest("admin-cli/Cargo.toml", renamed, &workspace()).len(), 1);
        let dev = "[package]\nname = \"croupier-loadtest\"\n[dependencies]\ncroupier-protocol.workspace = true\n[dev-dependencies]\ncroupier-gateway.workspace = true\n";
        assert_eq!(check_manifest("loadtest/Cargo.toml", dev, &workspace()), []);
    }

    #[test]
    fn a_module_on_the_server_or_on_another_module_is_refused() {
        let bad = "[package]\nname = \"croupier-wallet\"\n[dependencies]\ncroupier-edge.workspace = true\ncroupier-gateway.workspace = true\n[dev-dependencies]\ncroupier-operator.workspace = true\n";
        let found = check_manifest("gateway/wallet/Cargo.toml", bad, &workspace());
        assert_eq!(
            rules_of(&found),
            [
                "a module depends on edge, protocol, readmodel, engine and journal only",
                "a module depends on edge, protocol, readmodel, engine and journal only"
            ]
        );
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "croupier-wallet has croupier-gateway in [dependencies]",
                "croupier-wallet has croupier-operator in [dev-dependencies]"
            ]
        );
        // A module added later is one by its place, not by a list.
        let later = "[package]\nname = \"croupier-pam\"\n[dependencies]\ncroupier-wallet.workspace = true\n";
        assert_eq!(check_manifest("gateway/pam/Cargo.toml", later, &workspace()).len(), 1);
        let fine = "[package]\nname = \"croupier-operator\"\n[dependencies]\ncroupier-edge.workspace = true\ncroupier-readmodel.workspace = true\ncroupier-engine.workspace = true\ncroupier-protocol.workspace = true\naxum.workspace = true\n";
        assert_eq!(check_manifest("gateway/operator/Cargo.toml", fine, &workspace()), []);
        // The server itself merges the modules.
        let server = "[package]\nname = \"croupier-gateway\"\n[dependencies]\ncroupier-wallet.workspace = true\ncroupier-operator.workspace = true\n";
        assert_eq!(check_manifest("gateway/Cargo.toml", server, &workspace()), []);
    }

    #[test]
    fn an_edge_on_a_module_or_on_the_server_is_refused() {
        let bad = "[package]\nname = \"croupier-edge\"\n[dependencies]\ncroupier-engine.workspace = true\ncroupier-wallet.workspace = true\n[dev-dependencies]\ncroupier-gateway.workspace = true\n";
        let found = check_manifest("gateway/edge/Cargo.toml", bad, &workspace());
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "croupier-edge has croupier-wallet in [dependencies]",
                "croupier-edge has croupier-gateway in [dev-dependencies]"
            ]
        );
        assert_eq!(found[0].rule, "the edge depends on no module and not on the server");
        let fine = "[package]\nname = \"croupier-edge\"\n[dependencies]\ncroupier-engine.workspace = true\ncroupier-protocol.workspace = true\ncroupier-readmodel.workspace = true\n";
        assert_eq!(check_manifest("gateway/edge/Cargo.toml", fine, &workspace()), []);
    }

    #[test]
    fn an_import_cycle_between_modules_is_refused() {
        let files = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
        };
        let cycle = files(&[
            (
                "lib.rs",
                "pub mod app;\npub mod routes;\npub mod metrics;\nuse crate::app::x;",
            ),
            (
                "app.rs",
                "//! [`crate::metrics`] in a doc is no import.\nuse crate::routes::table;",
            ),
            ("routes.rs", "use crate::{metrics::{self, M}, other};"),
            ("metrics/mod.rs", "fn f(s: crate::app::State) {}"),
        ]);
        let found = check_module_cycles("gateway", &cycle);
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(details, ["app -> routes -> metrics -> app"]);
        assert_eq!(found[0].rule, "no import cycles between a crate's modules");
        let layered = files(&[
            ("app.rs", "use crate::routes::table;\nuse crate::metrics;"),
            ("routes.rs", "use crate::{metrics::{self, M}};"),
            (
                "metrics/mod.rs",
                "use crate::metrics::inner; use super::x; use my_crate::app;",
            ),
        ]);
        assert_eq!(check_module_cycles("gateway", &layered), []);
    }

    #[test]
    fn a_protocol_with_a_runtime_is_refused() {
        let bad = "[package]\nname = \"croupier-protocol\"\n[dependencies]\ntokio.workspace = true\nserde.workspace = true\n[target.'cfg(unix)'.dependencies]\naxum = \"0.8\"\n";
        let found = check_manifest("gateway/protocol/Cargo.toml", bad, &workspace());
        let details: Vec<&str> = found.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "croupier-protocol depends on tokio",
                "croupier-protocol depends on axum"
            ]
        );
    }

    #[test]
    fn a_protocol_linking_a_runtime_through_a_dependency_is_refused() {
        let lock = r#"
            [[package]]
            name = "croupier-protocol"
            dependencies = ["croupier-engine-core", "serde"]
            [[package]]
            name = "croupier-engine-core"
            dependencies = ["hyper 1.0.0"]
            [[package]]
            name = "hyper"
            version = "1.0.0"
            dependencies = ["tokio"]
            [[package]]
            name = "tokio"
            [[package]]
            name = "serde"
        "#;
        let details: Vec<String> = check_protocol_closure("Cargo.lock", lock)
            .into_iter()
            .map(|v| v.detail)
            .collect();
        assert_eq!(
            details,
            [
                "croupier-protocol links hyper through its dependencies",
                "croupier-protocol links tokio through its dependencies"
            ]
        );
        let clean = lock.replace("\"hyper 1.0.0\"", "\"serde\"");
        assert_eq!(check_protocol_closure("Cargo.lock", &clean), []);
    }

    #[test]
    fn a_journal_on_the_engine_is_refused() {
        let bad = "[package]\nname = \"croupier-journal\"\n[dev-dependencies]\ncroupier-engine.workspace = true\n";
        let found = check_manifest("journal/Cargo.toml", bad, &workspace());
        assert_eq!(
            rules_of(&found),
            ["journal and pure ledger depend on no workspace crate"]
        );
        let fine = "[package]\nname = \"croupier-journal\"\n[dependencies]\nblake3.workspace = true\n";
        assert_eq!(check_manifest("journal/Cargo.toml", fine, &workspace()), []);
    }

    #[test]
    fn a_ledger_reaching_the_runtime_is_refused() {
        let check = |text: &str| -> Vec<String> {
            check_ledger_imports("engine/core/src/ledger/x.rs", text)
                .into_iter()
                .map(|v| v.detail)
                .collect()
        };
        assert_eq!(check("use crate::sequencer::Clock;"), ["uses crate::sequencer"]);
        assert_eq!(
            check("use crate::{money::Amount,\n    snapshot::Header};"),
            ["uses crate::snapshot"]
        );
        assert_eq!(check("let x = journal::Reader::open(p);"), ["uses journal::"]);
        assert_eq!(check("use crate::record::Committed as C;"), ["uses crate::record"]);
        let fine = "use crate::money::Amount;\n// crate::sequencer stamps the time.\nlet record = 1; my_journal::x();";
        assert_eq!(check(fine), Vec::<String>::new());
    }

    #[test]
    fn clocks_files_threads_and_randomness_in_the_ledger_are_refused() {
        let check = |text: &str| -> Vec<String> {
            check_purity("engine/core/src/ledger/x.rs", text)
                .into_iter()
                .map(|v| v.detail)
                .collect()
        };
        assert_eq!(
            check("let now = std::time::Instant::now();"),
            ["uses std::time::Instant", "uses Instant::now"]
        );
        assert_eq!(check("use std::time::{Duration, SystemTime};"), ["names SystemTime"]);
        assert_eq!(check("std::fs::read(p)"), ["uses std::fs"]);
        assert_eq!(check("std::thread::spawn(f)"), ["uses std::thread"]);
        assert_eq!(check("let x: u8 = rand::random();"), ["uses rand::"]);
        let fine =
            "use std::time::Duration;\n// no Instant::now here\nlet operand::x = getrandom_like; let instant_ms = 3;";
        assert_eq!(check(fine), Vec::<String>::new());
        let unstable = |text: &str| -> Vec<String> {
            check_stable_hashing("engine/core/src/ledger/x.rs", text)
                .into_iter()
                .map(|v| v.detail)
                .collect()
        };
        assert_eq!(
            unstable("let mut h = rustc_hash::FxHasher::default();"),
            ["names FxHasher"]
        );
        assert_eq!(unstable("#[derive(rkyv::Archive)]"), ["names rkyv"]);
        assert_eq!(unstable("StableHasher::new(KEY).add(&x)"), Vec::<String>::new());
        assert_eq!(
            check_purity("a.rs", "std::fs::x")[0].to_string(),
            "a.rs: [the pure ledger does no I/O, reads no clock, spawns no thread, draws no random number] uses std::fs"
        );
    }

    #[test]
    fn a_file_without_a_module_doc_is_refused() {
        assert_eq!(check_module_doc("a.rs", "//! Why.\nfn f() {}\n"), []);
        assert_eq!(check_module_doc("a.rs", "\n\n//! Why, after blank lines.\n"), []);
        for bad in [
            "/// Item doc.\nfn f() {}\n",
            "use x;\n//! late\n",
            "",
            "// plain comment\n",
        ] {
            let found = check_module_doc("a.rs", bad);
            assert_eq!(found.len(), 1, "{bad:?}");
            assert_eq!(found[0].path, "a.rs");
        }
    }
}
