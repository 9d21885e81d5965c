//! The layers' one-way arrows, checked on the source (see ARCHITECTURE.md,
//! "Layers"):
//!
//! ```text
//! http (dialects → shared edge) → commands, queries → projections → events
//!                        ↘ auth, field_tables, collections ↙
//! ```
//!
//! - a vendor dialect imports nothing from the PortSIP dialect (shared edge
//!   helpers live in `src/http/` itself);
//! - nothing under `src/http/` reaches the log (reads go through the
//!   queries layer, writes through the command pipeline);
//! - `src/auth`, the command and queries layers, the field tables, the declared
//!   collections and the webhooks import nothing from `src/http`.
//!
//! Only code counts: a file's test module (from `#[cfg(test)]` followed by
//! `mod …`), a whole file declared as a test module (`#[cfg(test)] mod x;`)
//! and comments are skipped.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// A rule: files under `dir` must not mention `needle` in code.
    struct Rule {
        dir: &'static str,
        needles: &'static [&'static str],
        why: &'static str,
    }

    const RULES: &[Rule] = &[
        Rule {
            dir: "src/http/vendors",
            needles: &["http::portsip", "super::portsip", "super::super::portsip"],
            why: "a vendor dialect imports nothing from the PortSIP dialect",
        },
        Rule {
            dir: "src/http",
            needles: &[
                "EventLog",
                "SledLog",
                "switchboard_events::log",
                "AppendRequest",
                ".read_all(",
                ".read_stream(",
                ".subscribe(",
            ],
            why: "nothing under src/http touches the log",
        },
        Rule {
            dir: "src/auth",
            needles: &["crate::http", "super::http", "super::super::http"],
            why: "src/auth imports nothing from src/http",
        },
        Rule {
            dir: "src/records",
            needles: &["crate::http", "super::http", "super::super::http"],
            why: "call history (store, follower, ingestion) imports nothing from the edge",
        },
        Rule {
            dir: "src/commands",
            needles: &["crate::http", "super::http"],
            why: "the command layer imports nothing from the edge",
        },
        Rule {
            dir: "src/queries",
            needles: &["crate::http", "super::http"],
            why: "the queries layer imports nothing from the edge",
        },
        Rule {
            dir: "src/field_tables",
            needles: &["crate::http", "super::http"],
            why: "the field tables import nothing from the edge",
        },
        Rule {
            dir: "src/collections",
            needles: &["crate::http", "super::http"],
            why: "a collection is declared as data; the edge reads it, not the reverse",
        },
        Rule {
            dir: "src/webhooks",
            needles: &["crate::http", "super::http"],
            why: "webhooks render from the log, not through a dialect",
        },
    ];

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The code of a file: up to its test module, without `//` comments.
    fn code(text: &str) -> Vec<(usize, &str)> {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let next = lines.get(i + 1).map(|l| l.trim_start()).unwrap_or("");
            if line.trim() == "#[cfg(test)]" && next.starts_with("mod ") {
                break;
            }
            let code = line.split("//").next().unwrap_or("");
            out.push((i + 1, code));
        }
        out
    }

    /// The files declared as test modules (`#[cfg(test)]` then `mod x;`).
    fn test_files(paths: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            for w in lines.windows(2) {
                let declared = w[1]
                    .trim_start_matches("pub ")
                    .strip_prefix("mod ")
                    .and_then(|m| m.strip_suffix(';'));
                if let (true, Some(name)) = (w[0] == "#[cfg(test)]", declared) {
                    let dir = match path.file_stem().and_then(|s| s.to_str()) {
                        Some("mod" | "lib" | "main") | None => path.with_file_name(""),
                        Some(stem) => path.with_file_name(stem),
                    };
                    out.push(dir.join(format!("{name}.rs")));
                }
            }
        }
        out
    }

    /// Every place `rules` are broken under `root`.
    fn violations(root: &Path, rules: &[Rule]) -> Vec<String> {
        let mut found = Vec::new();
        for rule in rules {
            let mut paths = Vec::new();
            files(&root.join(rule.dir), &mut paths);
            let tests = test_files(&paths);
            for path in paths.iter().filter(|p| !tests.contains(p)) {
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                for (n, line) in code(&text) {
                    for needle in rule.needles {
                        if line.contains(needle) {
                            found.push(format!(
                                "{}:{n}: `{needle}`: {}",
                                path.strip_prefix(root).unwrap_or(path).display(),
                                rule.why
                            ));
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_layers_arrows_point_one_way() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let found = violations(root, RULES);
        assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
        // The rules look where the code is.
        for rule in RULES {
            assert!(root.join(rule.dir).is_dir(), "{} moved", rule.dir);
        }
    }

    #[test]
    fn a_broken_arrow_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vendors = dir.path().join("src/http/vendors");
        std::fs::create_dir_all(&vendors).expect("dirs");
        std::fs::write(
            vendors.join("x.rs"),
            "// crate::http::portsip in a comment is fine\n\
             use crate::http::portsip::extensions::scope_in;\n\
             #[cfg(test)]\nmod tests {\n    use crate::http::portsip::users;\n}\n\
             #[cfg(test)]\nmod model;\n",
        )
        .expect("write");
        // x.rs declares x/model.rs a test module: not counted.
        std::fs::create_dir_all(vendors.join("x")).expect("dirs");
        std::fs::write(
            vendors.join("x/model.rs"),
            "use crate::http::portsip::users;\n",
        )
        .expect("write");
        let found = violations(dir.path(), &RULES[..1]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("x.rs:2"), "{found:?}");
    }
}
