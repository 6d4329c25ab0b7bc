//! WIT doc comments of a component, from its `package-docs` custom section.
//!
//! `wit-component` writes the doc comments of a WIT package into a custom section named
//! `package-docs` (a version byte, then JSON); a component that carries one for its own
//! package tells what its functions do. [`FunctionDocs::of`] reads the function docs of
//! exported interfaces and world-level exports, keyed as the host names functions
//! (`hello`, `zoo.add-u8`). The section is read leniently: anything it does not
//! understand is ignored (docs are descriptions, never authority).

use std::collections::HashMap;

use serde_json::Value;

/// The custom section's name.
pub const SECTION: &str = "package-docs";

/// Longest description kept, in bytes (a longer one is cut at a character boundary).
pub const MAX_DOC: usize = 4096;

/// Function descriptions by tool name.
#[derive(Debug, Clone, Default)]
pub struct FunctionDocs(HashMap<String, String>);

impl FunctionDocs {
    /// The docs in `component`'s `package-docs` section, if any.
    pub fn of(component: &[u8]) -> FunctionDocs {
        let mut docs = FunctionDocs::default();
        for payload in wasmparser::Parser::new(0).parse_all(component) {
            let Ok(wasmparser::Payload::CustomSection(section)) = payload else {
                continue;
            };
            if section.name() != SECTION {
                continue;
            }
            let data = section.data();
            if !matches!(data.first(), Some(0 | 1)) {
                continue;
            }
            if let Ok(json) = serde_json::from_slice::<Value>(&data[1..]) {
                docs.read(&json);
            }
        }
        docs
    }

    /// The description of function `name`, if its WIT has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn read(&mut self, package: &Value) {
        for (iface, meta) in object(&package["interfaces"]) {
            self.funcs(Some(iface), &meta["funcs"]);
        }
        for (_, world) in object(&package["worlds"]) {
            for key in ["funcs", "func_exports"] {
                self.funcs(None, &world[key]);
            }
            for key in ["interfaces", "interface_exports"] {
                for (iface, meta) in object(&world[key]) {
                    self.funcs(Some(iface), &meta["funcs"]);
                }
            }
        }
    }

    fn funcs(&mut self, iface: Option<&str>, funcs: &Value) {
        for (name, meta) in object(funcs) {
            let text = match meta {
                Value::String(s) => s.as_str(),
                other => match other["docs"].as_str() {
                    Some(s) => s,
                    None => continue,
                },
            };
            let key = match iface {
                Some(iface) => format!("{iface}.{name}"),
                None => name.to_owned(),
            };
            self.0.insert(key, cut(text.trim()));
        }
    }
}

fn object(v: &Value) -> impl Iterator<Item = (&str, &Value)> {
    v.as_object()
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
}

fn cut(text: &str) -> String {
    let mut end = text.len().min(MAX_DOC);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty component with one custom section `name` holding `data`.
    fn with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut body = vec![name.len() as u8];
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(data);
        let mut out = b"\0asm\x0d\x00\x01\x00".to_vec();
        out.push(0);
        let mut n = body.len();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(&body);
        out
    }

    fn docs(version: u8, json: &str) -> FunctionDocs {
        let mut data = vec![version];
        data.extend_from_slice(json.as_bytes());
        FunctionDocs::of(&with_section(SECTION, &data))
    }

    #[test]
    fn interface_and_world_functions_are_named_as_the_host_names_them() {
        let d = docs(
            1,
            r#"{"interfaces": {"zoo": {"funcs": {"add": "Adds.", "sub": {"docs": " Subtracts. "}}}},
                "worlds": {"w": {"func_exports": {"hello": "Greets."}}}}"#,
        );
        assert_eq!(d.get("zoo.add"), Some("Adds."));
        assert_eq!(d.get("zoo.sub"), Some("Subtracts."));
        assert_eq!(d.get("hello"), Some("Greets."));
        assert_eq!(d.get("add"), None);
    }

    #[test]
    fn anything_not_understood_is_ignored() {
        assert_eq!(
            docs(9, r#"{"worlds": {"w": {"funcs": {"f": "x"}}}}"#).get("f"),
            None
        );
        assert_eq!(docs(1, "not json").get("f"), None);
        assert_eq!(
            docs(1, r#"{"worlds": [1, 2], "interfaces": "x"}"#).get("f"),
            None
        );
        let other = with_section("not-docs", b"\x01{}");
        assert!(FunctionDocs::of(&other).0.is_empty());
        assert!(FunctionDocs::of(b"garbage").0.is_empty());
        let long = format!(
            r#"{{"worlds": {{"w": {{"funcs": {{"f": "{}"}}}}}}}}"#,
            "é".repeat(5000)
        );
        let cut = docs(1, &long);
        let f = cut.get("f").unwrap_or_default();
        assert!(f.len() <= MAX_DOC && f.starts_with('é'), "{}", f.len());
    }
}
