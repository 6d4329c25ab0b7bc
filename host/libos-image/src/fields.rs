//! Walking a parsed TOML table field by field, so that every error names its field.
//!
//! A [`Section`] is one table of the manifest (the top level, `[tools]`, `[limits]`). Taking a
//! key removes it; keys not in the section's allowed list are rejected up front.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::error::{FieldError, ManifestError};

/// One table of the manifest, with the dotted path leading to it.
pub(crate) struct Section {
    origin: PathBuf,
    prefix: Option<String>,
    table: Table,
}

impl Section {
    /// Wraps the top-level table, rejecting any key not in `allowed`.
    pub(crate) fn top(
        origin: &Path,
        table: Table,
        allowed: &[&str],
    ) -> Result<Section, ManifestError> {
        let section = Section {
            origin: origin.to_path_buf(),
            prefix: None,
            table,
        };
        section.deny_unknown(allowed)?;
        Ok(section)
    }

    /// The dotted path of `key` in this section, quoting keys that are not bare TOML keys.
    pub(crate) fn path_of(&self, key: &str) -> String {
        let bare = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let key = if bare {
            key.to_owned()
        } else {
            format!("{key:?}")
        };
        match &self.prefix {
            Some(prefix) => format!("{prefix}.{key}"),
            None => key,
        }
    }

    /// An error about `key` of this section.
    pub(crate) fn error(&self, key: &str, problem: FieldError) -> ManifestError {
        self.error_at(self.path_of(key), problem)
    }

    /// An error about the field at the dotted path `field`.
    pub(crate) fn error_at(&self, field: String, problem: FieldError) -> ManifestError {
        ManifestError::Field {
            path: self.origin.clone(),
            field,
            problem,
        }
    }

    fn deny_unknown(&self, allowed: &[&str]) -> Result<(), ManifestError> {
        match self.table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(self.error(
                key,
                FieldError::Unknown {
                    expected: allowed.join(", "),
                },
            )),
            None => Ok(()),
        }
    }

    /// Removes and returns `key`'s value, if present.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.table.remove(key)
    }

    /// Removes `key`, which must be a string if present.
    pub(crate) fn take_string(&mut self, key: &str) -> Result<Option<String>, ManifestError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", &other)),
        }
    }

    /// Removes `key`, which must be present and a string.
    pub(crate) fn require_string(&mut self, key: &str) -> Result<String, ManifestError> {
        self.take_string(key)?
            .ok_or_else(|| self.error(key, FieldError::Missing))
    }

    /// Removes `key`, which must be a table if present, and wraps it as a nested section that
    /// rejects keys not in `allowed` (`None` accepts any key).
    pub(crate) fn take_section(
        &mut self,
        key: &str,
        allowed: Option<&[&str]>,
    ) -> Result<Option<Section>, ManifestError> {
        let table = match self.take(key) {
            None => return Ok(None),
            Some(Value::Table(table)) => table,
            Some(other) => return Err(self.wrong_type(key, "a table", &other)),
        };
        let section = Section {
            origin: self.origin.clone(),
            prefix: Some(self.path_of(key)),
            table,
        };
        if let Some(allowed) = allowed {
            section.deny_unknown(allowed)?;
        }
        Ok(Some(section))
    }

    /// Removes `key`, which must be an array of strings if present; element errors name
    /// `key[index]`.
    pub(crate) fn take_string_array(
        &mut self,
        key: &str,
    ) -> Result<Option<Vec<String>>, ManifestError> {
        let items = match self.take(key) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(self.wrong_type(key, "an array of strings", &other)),
        };
        let mut strings = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => strings.push(s),
                other => {
                    return Err(self.error_at(
                        format!("{}[{index}]", self.path_of(key)),
                        FieldError::WrongType {
                            expected: "a string",
                            got: other.type_str(),
                        },
                    ));
                }
            }
        }
        Ok(Some(strings))
    }

    /// A [`FieldError::WrongType`] error about `key`.
    pub(crate) fn wrong_type(
        &self,
        key: &str,
        expected: &'static str,
        got: &Value,
    ) -> ManifestError {
        self.error(
            key,
            FieldError::WrongType {
                expected,
                got: got.type_str(),
            },
        )
    }

    /// Removes and returns every remaining entry, in key order.
    pub(crate) fn drain(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.table).into_iter().collect()
    }
}
