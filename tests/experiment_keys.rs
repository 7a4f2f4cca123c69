//! `data/experiments/README.md` is generated from the doc comments of the config structs (run
//! with `GOODHART_BLESS=1` to rewrite it) and must document every key of every preset.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sources that define the experiment config's types.
const SOURCES: &[&str] = &[
    "crates/goodhart-repro/src/config/mod.rs",
    "crates/goodhart-repro/src/config/stages.rs",
    "crates/goodhart-world/src/lib.rs",
    "crates/goodhart-world/src/writer.rs",
    "crates/goodhart-world/src/rubric.rs",
    "crates/goodhart-policy/src/pretrain.rs",
    "crates/goodhart-core/src/traits.rs",
    "crates/goodhart-rm/src/train.rs",
    "crates/goodhart-ppo/src/config.rs",
];

struct Field {
    name: String,
    ty: String,
    doc: String,
}

struct Item {
    doc: String,
    fields: Vec<Field>,
    /// For an enum: its variants with their docs (the key `kind` picks one).
    variants: Vec<(String, String)>,
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Every `pub struct` and `pub enum` with its doc, fields and variants. A field without a doc
/// comment of its own shares the doc of the field just above it when that doc names it (the
/// sources document a group of fields once: `on_topic_base + on_topic_gain * s`).
fn items() -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    for source in SOURCES {
        let text = fs::read_to_string(root().join(source)).unwrap();
        let mut doc: Vec<String> = Vec::new();
        let mut current: Option<(String, Item)> = None;
        let mut last_doc = String::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(d) = t.strip_prefix("///") {
                doc.push(d.trim().to_string());
                continue;
            }
            if t.starts_with("#[") {
                continue;
            }
            let header = t.strip_prefix("pub struct ").or_else(|| t.strip_prefix("pub enum "));
            if let Some(rest) = header.filter(|r| r.ends_with('{')) {
                let name = rest.trim_end_matches('{').trim().to_string();
                current =
                    Some((name, Item { doc: doc.join("\n"), fields: Vec::new(), variants: Vec::new() }));
                doc.clear();
                last_doc.clear();
                continue;
            }
            if let Some((name, item)) = current.as_mut() {
                if t == "}" && !line.starts_with("    ") {
                    out.insert(
                        std::mem::take(name),
                        std::mem::replace(
                            item,
                            Item { doc: String::new(), fields: Vec::new(), variants: Vec::new() },
                        ),
                    );
                    current = None;
                } else if let Some(f) = t.strip_prefix("pub ").filter(|f| f.contains(':') && f.ends_with(','))
                {
                    let (fname, ty) = f.trim_end_matches(',').split_once(':').unwrap();
                    let own = doc.join(" ");
                    let fname_t = fname.trim();
                    let named = last_doc
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|word| word == fname_t);
                    let d = if !own.is_empty() {
                        own
                    } else if named {
                        last_doc.clone()
                    } else {
                        String::new()
                    };
                    last_doc = d.clone();
                    item.fields.push(Field { name: fname.trim().into(), ty: ty.trim().into(), doc: d });
                } else if line.starts_with("    ")
                    && !line.starts_with("     ")
                    && t.chars().next().is_some_and(char::is_uppercase)
                {
                    let variant = snake(t.split(|c: char| !c.is_alphanumeric()).next().unwrap());
                    let vdoc = doc.join(" ");
                    // a variant's own fields are keys beside `kind`
                    if let Some(inside) =
                        t.split_once('{').and_then(|(_, r)| r.split_once('}')).map(|(f, _)| f)
                    {
                        for pair in inside.split(',').filter(|p| p.contains(':')) {
                            let (fname, ty) = pair.split_once(':').unwrap();
                            let fdoc = format!("with kind = `{variant}`");
                            item.fields.push(Field {
                                name: fname.trim().into(),
                                ty: ty.trim().into(),
                                doc: fdoc,
                            });
                        }
                    }
                    item.variants.push((variant, vdoc));
                } else if t.is_empty() {
                    last_doc.clear();
                }
                doc.clear();
            } else {
                doc.clear();
            }
        }
    }
    out
}

/// Enums serialised as a plain string (no `kind` tag, no fields).
const UNIT_ENUMS: &[&str] = &["GoldKind"];

/// The type a field's keys come from (`Option<T>` and `T` alike).
fn inner(ty: &str) -> &str {
    ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')).unwrap_or(ty)
}

fn document(items: &BTreeMap<String, Item>, ty: &str, prefix: &str, out: &mut String) {
    let item = &items[ty];
    let mut leaves = Vec::new();
    let mut tables = Vec::new();
    for f in &item.fields {
        let key = format!("{prefix}{}", f.name);
        let t = inner(&f.ty);
        match items.get(t) {
            // an enum of plain variants is one string key
            Some(i) if i.fields.is_empty() && !i.variants.is_empty() && UNIT_ENUMS.contains(&t) => {
                let kinds: Vec<String> = i.variants.iter().map(|(v, _)| format!("`{v}`")).collect();
                leaves.push((key, "string".into(), format!("{} One of {}.", f.doc, kinds.join(", "))));
            }
            Some(i) if !i.fields.is_empty() || !i.variants.is_empty() => {
                tables.push((key, t.to_string(), f.doc.clone()))
            }
            _ => leaves.push((key, f.ty.clone(), f.doc.clone())),
        }
    }
    if !item.variants.is_empty() {
        let kinds: Vec<String> = item
            .variants
            .iter()
            .map(|(v, d)| if d.is_empty() { format!("`{v}`") } else { format!("`{v}` ({d})") })
            .collect();
        leaves.push((format!("{prefix}kind"), "string".into(), format!("one of {}", kinds.join("; "))));
    }
    if !leaves.is_empty() {
        out.push_str("| key | type | meaning |\n|---|---|---|\n");
        for (key, ty, doc) in leaves {
            out.push_str(&format!("| `{key}` | `{ty}` | {} |\n", doc.replace('|', "\\|")));
        }
        out.push('\n');
    }
    for (key, t, doc) in tables {
        out.push_str(&format!("## `[{key}]`\n\n"));
        if !doc.is_empty() {
            out.push_str(&format!("{doc}\n\n"));
        }
        let type_doc = &items[&t].doc;
        if !type_doc.is_empty() {
            out.push_str(&format!("{type_doc}\n\n"));
        }
        document(items, &t, &format!("{key}."), out);
    }
}

fn generated() -> String {
    let items = items();
    let mut out = String::from(
        "# Experiment files\n\n\
         Every key of an experiment file (`tiny.toml`, `laptop.toml`, `paper.toml` here, or your own\n\
         with `cargo xtask reproduce <target> --config FILE`; single keys with `--set key=value`).\n\
         Generated from the doc comments of the config types by `tests/experiment_keys.rs`\n\
         (`GOODHART_BLESS=1 cargo test --test experiment_keys` rewrites it); do not edit by hand.\n\n",
    );
    document(&items, "ExperimentConfig", "", &mut out);
    out
}

/// Every key path of a preset, as the config serialises it.
fn keys(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                keys(v, &format!("{prefix}{k}."), out);
            }
        }
        _ => out.push(prefix.trim_end_matches('.').to_string()),
    }
}

#[test]
fn every_key_of_every_preset_is_documented() {
    let doc = generated();
    let path = root().join("data/experiments/README.md");
    if std::env::var_os("GOODHART_BLESS").is_some() {
        fs::write(&path, &doc).unwrap();
    }
    let on_disk = fs::read_to_string(&path).unwrap();
    assert!(
        on_disk == doc,
        "data/experiments/README.md is stale: run GOODHART_BLESS=1 cargo test --test experiment_keys"
    );
    for preset in goodhart::repro::config::PRESETS {
        let config = goodhart::repro::ExperimentConfig::preset(preset).unwrap();
        let mut all = Vec::new();
        keys(&serde_json::to_value(&config).unwrap(), "", &mut all);
        for key in all {
            let row = doc.lines().find(|l| l.starts_with(&format!("| `{key}` |")));
            let row = row.unwrap_or_else(|| panic!("{preset}: the key {key} is not documented"));
            assert!(!row.ends_with("|  |"), "{key} has no doc comment in its source: {row}");
        }
    }
}
