//! Reading manifests the way kubectl does: files, directories (recursively), stdin; YAML or JSON, many documents a file.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::object::{self, KedaObject};

/// Where a document came from: the file (or `-` for stdin) and its 1-based position in that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user named it (or as found under a named directory), `-` for stdin.
    pub file: Arc<str>,
    /// 1-based document number within the file.
    pub doc: usize,
    /// Index within a `kind: List` document's `items`, when the object came from one.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:doc#{}", self.file, self.doc)?;
        if let Some(i) = self.item {
            write!(f, ".items[{i}]")?;
        }
        Ok(())
    }
}

/// One parsed document with its origin: a keda.sh object already in its type, or any other
/// object as a JSON-shaped value.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub origin: Origin,
    api_version: String,
    kind: String,
    content: Content,
}

#[derive(Clone, Debug)]
enum Content {
    Value(Value),
    Keda(Arc<KedaObject>),
}

impl Document {
    fn from_value(origin: Origin, value: Value) -> Self {
        let field = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let content = match object::is_served_keda(&api_version, &kind) {
            true => match object::from_value(&kind, &value) {
                Ok(obj) => Content::Keda(Arc::new(obj)),
                // Kept generic: admission reports the error with its path.
                Err(_) => Content::Value(value),
            },
            false => Content::Value(value),
        };
        Document {
            origin,
            api_version,
            kind,
            content,
        }
    }

    /// `apiVersion` of the document, or "" when it has none.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `kind` of the document, or "" when it has none.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The typed keda.sh object, when the document is one and matches its schema.
    pub fn keda(&self) -> Option<&KedaObject> {
        self.keda_shared().map(|o| &**o)
    }

    /// The typed keda.sh object, shared (no copy) with whoever else holds it.
    pub fn keda_shared(&self) -> Option<&Arc<KedaObject>> {
        match &self.content {
            Content::Keda(obj) => Some(obj),
            Content::Value(_) => None,
        }
    }

    /// The document as a JSON-shaped value (built on demand for typed keda.sh objects).
    pub fn value(&self) -> Cow<'_, Value> {
        match &self.content {
            Content::Value(v) => Cow::Borrowed(v),
            Content::Keda(obj) => Cow::Owned(obj.to_value()),
        }
    }

    /// `metadata.namespace/metadata.name`; cluster-scoped objects print their name alone.
    pub fn display_name(&self) -> String {
        let (name, namespace) = match &self.content {
            Content::Keda(obj) => {
                let m = obj.metadata();
                (m.name.clone(), m.namespace.clone())
            }
            Content::Value(v) => {
                let meta = v.get("metadata");
                let get = |k: &str| {
                    meta.and_then(|m| m.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                (get("name"), get("namespace"))
            }
        };
        let name = name.unwrap_or_else(|| "<unnamed>".to_owned());
        match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        }
    }
}

/// Why some input could not be read or parsed. Nothing here is fatal for the other inputs.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path could not be read at all.
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not a text file (invalid UTF-8 at byte {offset})")]
    NotText {
        /// The path as given.
        path: String,
        /// First invalid byte.
        offset: usize,
    },
    /// The file holds no document at all.
    #[error("{path}: no objects found (the file is empty or holds only comments)")]
    Empty {
        /// The path as given.
        path: String,
    },
    /// One document is not valid YAML/JSON or not an object with apiVersion and kind.
    #[error("{origin}: {message}")]
    Parse {
        /// Which document.
        origin: Origin,
        /// What is wrong, with line and column where the parser knows them.
        message: String,
    },
}

/// Everything read from a set of paths: the documents that parsed and the errors for the rest.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Documents in input order.
    pub documents: Vec<Document>,
    /// Input problems in input order.
    pub errors: Vec<LoadError>,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Reads every path: `-` is stdin, a directory is walked recursively for .yaml/.yml/.json files
/// (sorted, so output is stable), anything else is read as one file.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            match std::io::stdin().read_to_end(&mut bytes) {
                Ok(_) => load_bytes("-", &bytes, &mut loaded),
                Err(source) => loaded.errors.push(LoadError::Unreadable {
                    path: "-".into(),
                    source,
                }),
            }
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err((p, source)) = collect_dir(path, &mut files) {
                loaded
                    .errors
                    .push(LoadError::Unreadable { path: p, source });
            }
            files.sort();
            for file in files {
                load_file(&file, &mut loaded);
            }
        } else {
            load_file(path, &mut loaded);
        }
    }
    loaded
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (String, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.display().to_string(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| (dir.display().to_string(), e))?.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn load_file(path: &Path, loaded: &mut Loaded) {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => load_bytes(&name, &bytes, loaded),
        Err(source) => loaded
            .errors
            .push(LoadError::Unreadable { path: name, source }),
    }
}

/// Parses raw bytes of one input (a file's content or stdin) into documents.
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Loaded {
    let mut loaded = Loaded::default();
    load_bytes(name, bytes, &mut loaded);
    loaded
}

fn load_bytes(name: &str, bytes: &[u8], loaded: &mut Loaded) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let before = loaded.documents.len() + loaded.errors.len();
            parse_into(name, text, loaded);
            if loaded.documents.len() + loaded.errors.len() == before {
                loaded.errors.push(LoadError::Empty {
                    path: name.to_owned(),
                });
            }
        }
        Err(e) => loaded.errors.push(LoadError::NotText {
            path: name.to_owned(),
            offset: e.valid_up_to(),
        }),
    }
}

/// Parses the text of one file (YAML with `---` separators, or a JSON object) into documents.
pub fn parse_text(file: &str, text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    parse_into(file, text, &mut loaded);
    loaded
}

fn parse_into(file: &str, text: &str, loaded: &mut Loaded) {
    let file: Arc<str> = Arc::from(file);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let origin = Origin {
            file,
            doc: 1,
            item: None,
        };
        match serde_json::from_str::<Value>(text) {
            Ok(value) => push_object(origin, value, loaded),
            Err(e) => loaded.errors.push(LoadError::Parse {
                origin,
                message: e.to_string(),
            }),
        }
        return;
    }
    for (i, chunk) in split_documents(text).into_iter().enumerate() {
        let origin = Origin {
            file: file.clone(),
            doc: i + 1,
            item: None,
        };
        if is_blank_yaml(chunk.text) {
            continue;
        }
        match serde_saphyr::from_str_with_options::<Value>(chunk.text, yaml_options()) {
            Ok(Value::Null) => {}
            Ok(value) => push_object(origin, value, loaded),
            Err(e) => loaded.errors.push(LoadError::Parse {
                origin,
                message: yaml_error_message(&e, chunk.first_line),
            }),
        }
    }
}

/// Parser options: comments are not kept (we never write the YAML back) and no error snippet is
/// rendered (we print our own file-relative position); the default budget stays on against
/// resource-amplifying input.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        emit_comments: false,
        with_snippet: false,
    }
}

fn push_object(origin: Origin, value: Value, loaded: &mut Loaded) {
    let Value::Object(map) = &value else {
        loaded.errors.push(LoadError::Parse {
            origin,
            message: format!(
                "expected an object with apiVersion and kind, found {}",
                type_name(&value)
            ),
        });
        return;
    };
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() || api_version.is_empty() {
        let missing = if kind.is_empty() {
            "kind"
        } else {
            "apiVersion"
        };
        loaded.errors.push(LoadError::Parse {
            origin,
            message: format!("object has no {missing}"),
        });
        return;
    }
    if kind == "List" || kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = map.get("items") {
            for (i, item) in items.iter().enumerate() {
                let origin = Origin {
                    item: Some(i),
                    ..origin.clone()
                };
                push_object(origin, item.clone(), loaded);
            }
        }
        return;
    }
    loaded.documents.push(Document::from_value(origin, value));
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

struct Chunk<'a> {
    text: &'a str,
    /// 1-based line of the chunk's first line in the file.
    first_line: usize,
}

/// Splits a YAML stream at `---` document markers (and `...` ends) found at the start of a line.
/// Splitting ourselves, rather than parsing the stream whole, keeps document numbers exact and lets
/// one broken document leave the others readable.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    // A document is open once a marker started it or content appeared; a leading `---` before
    // any content opens the first document rather than ending an empty one.
    let mut open = false;
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let line_no = idx + 1;
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        let is_end = bare == "...";
        if is_marker || is_end {
            if open || is_end {
                chunks.push(Chunk {
                    text: &text[start..offset],
                    first_line: start_line,
                });
            }
            open = is_marker;
            // Content after `--- ` on the marker line belongs to the new document.
            start = if is_marker {
                offset + 3
            } else {
                offset + line.len()
            };
            start_line = line_no;
        } else if !is_blank_yaml(bare) {
            open = true;
        }
        offset += line.len();
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(Chunk {
            text: &text[start.min(text.len())..],
            first_line: start_line,
        });
    }
    chunks
}

fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with("%YAML") || t.starts_with("%TAG")
    })
}

/// The parser's message with its line moved from chunk-relative to file-relative numbering.
fn yaml_error_message(err: &serde_saphyr::Error, first_line: usize) -> String {
    let message = err.to_string();
    let first = message
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_owned();
    match err.location() {
        Some(loc) => {
            let line = loc.line() as usize + first_line - 1;
            format!(
                "invalid YAML at line {line}, column {}: {}",
                loc.column(),
                strip_location(&first)
            )
        }
        None => format!("invalid YAML: {first}"),
    }
}

fn strip_location(message: &str) -> &str {
    // serde-saphyr appends " at line X column Y"; we print our own file-relative position.
    match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_numbered_by_position_in_the_file() {
        let text =
            "---\napiVersion: v1\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: B\n";
        let loaded = parse_text("f.yaml", text);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let docs: Vec<_> = loaded
            .documents
            .iter()
            .map(|d| (d.origin.doc, d.kind().to_owned()))
            .collect();
        assert_eq!(docs, vec![(1, "A".to_owned()), (3, "B".to_owned())]);
    }

    #[test]
    fn a_broken_document_leaves_the_others_readable() {
        let text = "apiVersion: v1\nkind: A\n---\napiVersion: [\n---\napiVersion: v1\nkind: C\n";
        let loaded = parse_text("f.yaml", text);
        assert_eq!(loaded.documents.len(), 2);
        assert_eq!(loaded.errors.len(), 1);
        let msg = loaded.errors[0].to_string();
        assert!(
            msg.starts_with("f.yaml:doc#2: invalid YAML at line"),
            "{msg}"
        );
    }

    #[test]
    fn json_objects_and_lists_are_expanded() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"A"},{"apiVersion":"v1","kind":"B"}]}"#;
        let loaded = parse_text("f.json", text);
        assert_eq!(loaded.documents.len(), 2);
        assert_eq!(
            loaded.documents[1].origin.to_string(),
            "f.json:doc#1.items[1]"
        );
    }

    #[test]
    fn scalars_and_objects_without_kind_are_errors() {
        let loaded = parse_text("f.yaml", "hello\n---\napiVersion: v1\n");
        let msgs: Vec<_> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "f.yaml:doc#1: expected an object with apiVersion and kind, found a string"
                    .to_owned(),
                "f.yaml:doc#2: object has no kind".to_owned(),
            ]
        );
    }

    #[test]
    fn document_content_on_the_marker_line_is_kept() {
        let loaded = parse_text("f.yaml", "--- {apiVersion: v1, kind: A}\n");
        assert_eq!(loaded.documents.len(), 1);
        assert_eq!(loaded.documents[0].kind(), "A");
    }
}
