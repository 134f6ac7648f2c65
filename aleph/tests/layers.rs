//! The layering rule, checked on the source: imports only point down.
//!
//! core (`stream`, `deferred`, `bytes`, `error`, `panic`) <- seam (`net`,
//! `tls`) <- protocols (`tcp`, `udp`, `http`, `dns`). The core imports
//! nothing above it; a protocol never imports another protocol. Every
//! `crate::` path in every file of a module counts, grouped imports
//! (`use crate::{net, tcp::x}`) included. A new top-level module fails this
//! test until it is given a layer below.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

// No waits here, but the shared helpers are declared as in every test file.
mod support;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Core,
    Seam,
    Protocol,
}

/// The layer of each top-level module of `aleph/src`, today's and the ones
/// the design names for later.
fn layer(module: &str) -> Option<Layer> {
    match module {
        "stream" | "deferred" | "bytes" | "error" | "panic" => Some(Layer::Core),
        "net" | "tls" => Some(Layer::Seam),
        "tcp" | "udp" | "http" | "dns" => Some(Layer::Protocol),
        _ => None,
    }
}

/// What the crate root re-exports, by the module that defines it.
fn root_item(item: &str) -> Option<&'static str> {
    match item {
        "Error" | "ErrorKind" | "Result" | "TimeoutKind" => Some("error"),
        "Server" => Some("net"),
        _ => None,
    }
}

/// Drops `//` comments (doc comments included: their examples use `aleph::`
/// paths, which are the public API and may point anywhere).
fn strip_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal ("http://...") is rare in this
            // crate's code; cutting there can only hide a path, so a test
            // below pins that ordinary code is still seen.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `crate::` in `source`; for a group
/// (`crate::{a, b::c}`) the first segment of each member.
fn crate_imports(source: &str) -> BTreeSet<String> {
    let code = strip_comments(source);
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `$crate::` in a macro, or an identifier ending in "crate".
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest_trimmed = rest.trim_start();
        if let Some(group) = rest_trimmed.strip_prefix('{') {
            let mut depth = 1;
            let mut member = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    push_first_segment(&member, &mut found);
                    member.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    member.push(c);
                }
            }
        } else {
            push_first_segment(rest_trimmed, &mut found);
        }
    }
    found
}

fn push_first_segment(path: &str, found: &mut BTreeSet<String>) {
    let segment: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !segment.is_empty() && segment != "self" {
        found.insert(segment);
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src` belongs to (`None` for `lib.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("a file under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    if first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_owned())
}

/// Why `from` may not import `to`, if it may not.
fn violation(from: &str, to: &str) -> Option<String> {
    let (from_layer, to_layer) = (layer(from)?, layer(to)?);
    if from == to {
        return None;
    }
    match (from_layer, to_layer) {
        (Layer::Core, Layer::Seam | Layer::Protocol) => Some(format!(
            "the core module `{from}` imports `{to}`, a layer above it"
        )),
        (Layer::Seam, Layer::Protocol) => Some(format!(
            "`{from}` (the seam) imports the protocol `{to}`; move what they share into `{from}`"
        )),
        (Layer::Protocol, Layer::Protocol) => Some(format!(
            "the protocol `{from}` imports the protocol `{to}`; move what they share into `net`"
        )),
        _ => None,
    }
}

#[test]
fn imports_point_only_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 10,
        "found only {files:?} under {}",
        src.display()
    );
    let mut problems = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        if layer(&module).is_none() {
            problems.push(format!(
                "{}: the module `{module}` has no layer; add it to `layer()` in tests/layers.rs",
                file.display()
            ));
            continue;
        }
        let source = std::fs::read_to_string(file).expect("a readable source file");
        for import in crate_imports(&source) {
            let target = match root_item(&import) {
                Some(module) => module.to_owned(),
                None => import,
            };
            if layer(&target).is_none() {
                problems.push(format!(
                    "{}: imports `crate::{target}`, which has no layer in tests/layers.rs",
                    file.display()
                ));
            } else if let Some(why) = violation(&module, &target) {
                problems.push(format!("{}: {why}", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_plain_grouped_and_nested_paths() {
    let source = "
        use crate::stream::{Channel, Duplex};
        use crate::{net::{self, Server}, tls, Error};
        fn f() { let _ = crate::udp::socket; }
        // use crate::http; (a comment: not an import)
        macro_rules! m { () => { $crate::dns::x } }
    ";
    let found: Vec<String> = crate_imports(source).into_iter().collect();
    assert_eq!(found, ["Error", "net", "stream", "tls", "udp"]);
}

#[test]
fn the_rules_forbid_sideways_and_upward_imports() {
    assert!(violation("tcp", "udp").is_some());
    assert!(violation("http", "tcp").is_some());
    assert!(violation("dns", "http").is_some());
    assert!(violation("stream", "net").is_some());
    assert!(violation("deferred", "tcp").is_some());
    assert!(violation("bytes", "tls").is_some());
    assert!(violation("net", "tcp").is_some());
    assert!(violation("tcp", "net").is_none());
    assert!(violation("http", "tls").is_none());
    assert!(violation("net", "tls").is_none());
    assert!(violation("udp", "stream").is_none());
    assert!(violation("tcp", "tcp").is_none());
}
