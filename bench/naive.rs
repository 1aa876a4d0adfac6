//! The reference for `render`: a naive single-threaded loop over the same campaign.
//!
//! It parses the whole `recipients.toml` into `toml::Table`s, builds a `serde_json` context for
//! each recipient, merges the same templates (with lettermerge's helpers and partials, compiled
//! once) with Handlebars, and writes `OUT/<id>.md` with `fs::write`. It has no checks, no
//! escaping of recipient data and no atomic output: it is the yardstick the issue measured
//! (2.6 s and 500 MB on its machine), run here so the two are timed on the same disk, on the same
//! day.
//!
//! `cargo bench --bench naive -- CAMPAIGN_DIR OUT_DIR` (bench/render.sh runs it beside the
//! real thing).

use std::path::Path;

use handlebars::Handlebars;
use serde_json::{json, Map, Value};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [dir, out] = &args[..] else {
        eprintln!("usage: cargo bench --bench naive -- CAMPAIGN_DIR OUT_DIR");
        std::process::exit(2);
    };
    let (dir, out) = (Path::new(dir), Path::new(out));
    std::fs::create_dir_all(out).expect("the output folder can be made");

    let settings: toml::Table = std::fs::read_to_string(dir.join("lettermerge.toml"))
        .expect("lettermerge.toml is readable")
        .parse()
        .expect("lettermerge.toml is TOML");
    let shared = |key: &str| settings.get(key).map(to_json).unwrap_or(json!({}));
    let date = settings
        .get("campaign")
        .and_then(|c| c.get("date"))
        .map(to_json)
        .unwrap_or(json!("2026-12-10"));

    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    lettermerge::template::helpers::register(&mut registry);
    let templates = dir.join("templates");
    for entry in std::fs::read_dir(&templates).expect("templates/ is readable") {
        let path = entry.expect("a file").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            registry
                .register_template_file(&name, &path)
                .expect("the template compiles");
        }
    }
    for entry in std::fs::read_dir(templates.join("partials")).expect("partials/ is readable") {
        let path = entry.expect("a file").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("the partial is readable");
        registry
            .register_partial(&name, text)
            .expect("the partial compiles");
    }

    let text = std::fs::read_to_string(dir.join("recipients.toml")).expect("recipients.toml");
    let file: toml::Table = text.parse().expect("recipients.toml is TOML");
    let recipients = file["recipient"].as_array().expect("[[recipient]] tables");
    for recipient in recipients {
        let fields = to_json(recipient);
        let id = fields["id"].as_str().expect("an id").to_string();
        let language = fields["language"].as_str().unwrap_or("en");
        let template = format!("letter.{language}.md");
        let template = if registry.has_template(&template) {
            template
        } else {
            "letter.md".to_string()
        };
        let context = json!({
            "recipient": fields,
            "letter": shared("letter"),
            "sender": shared("sender"),
            "campaign": shared("campaign"),
            "date": date,
        });
        let letter = registry
            .render(&template, &context)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        std::fs::write(out.join(format!("{id}.md")), letter).expect("the letter is written");
    }
    println!("wrote {} letters to {}", recipients.len(), out.display());
}

fn to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}
