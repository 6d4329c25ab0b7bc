//! Standing answers: `always` and `never` for an image, an action and a resource pattern.
//!
//! A rule for a shell action (`shell.*`) is about command lines, not programs: its pattern
//! is a glob over the command line ([`command_line`]: the argv, each argument quoted as a
//! shell would need it, joined by spaces; `*` matches any characters, `/` and spaces
//! included), so it never covers every later use of a program. Answered on a request
//! without a pattern (or with the program's name, the request's resource, as the pattern),
//! it is bound to exactly the argv that request ran; a pattern a person types (`ls *`,
//! `git rev-parse *`) must name the request's program as its first word.

use globset::{GlobBuilder, GlobMatcher};
use libos_authority::{Capability, CapabilitySet};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{HumanError, Result};
use crate::sql::{key, unsigned};

/// What a rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleEffect {
    /// Approve without asking.
    Always,
    /// Deny without asking.
    Never,
}

impl RuleEffect {
    /// `always` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleEffect::Always => "always",
            RuleEffect::Never => "never",
        }
    }
}

/// A standing answer for the processes of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Its id (for `libos rules rm`).
    pub id: u64,
    /// The image it applies to, `name:version`.
    pub image: String,
    /// The action it applies to (exactly).
    pub action: String,
    /// The resource pattern it applies to (a capability glob: `*`, `**`).
    pub resource: String,
    /// Its answer.
    pub effect: RuleEffect,
    /// The request it was answered on, if any.
    pub request_id: Option<String>,
    /// Who made it.
    pub decided_by: Option<String>,
    /// When, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
}

impl Rule {
    /// Hex SHA-256 over every field: the record of the rule's creation carries it as its
    /// argument digest, and a rule is obeyed only while such a record exists (a row written
    /// into the table by other means, or edited since, matches none).
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        let id = self.id.to_le_bytes();
        let created = self.created_ns.to_le_bytes();
        let fields: [&[u8]; 8] = [
            &id,
            self.image.as_bytes(),
            self.action.as_bytes(),
            self.resource.as_bytes(),
            self.effect.as_str().as_bytes(),
            self.request_id.as_deref().unwrap_or("").as_bytes(),
            self.decided_by.as_deref().unwrap_or("").as_bytes(),
            &created,
        ];
        for field in fields {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field);
        }
        hex::encode(h.finalize())
    }
}

const COLUMNS: &str = "id, image, action, resource, effect, request_id, decided_by, created_ns";

fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Rule> {
    let effect: String = row.get(4)?;
    Ok(Rule {
        id: unsigned(row.get(0)?),
        image: row.get(1)?,
        action: row.get(2)?,
        resource: row.get(3)?,
        effect: if effect == "always" {
            RuleEffect::Always
        } else {
            RuleEffect::Never
        },
        request_id: row.get(5)?,
        decided_by: row.get(6)?,
        created_ns: unsigned(row.get(7)?),
    })
}

/// Whether `action` is a shell action, whose rules are about command lines.
fn is_shell(action: &str) -> bool {
    action.starts_with("shell.")
}

/// The command line a shell rule matches for `argv`: each argument as is when it holds only
/// characters no shell treats specially, else single-quoted; joined by single spaces. Two
/// different argvs never give the same line.
pub fn command_line(argv: &[String]) -> String {
    let plain = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./=:,+@%^-".contains(c))
    };
    argv.iter()
        .map(|a| {
            if plain(a) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A glob matching exactly `line` (its glob characters escaped).
fn literal_glob(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if "*?[]{}\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The compiled glob of a shell rule's pattern.
fn line_glob(pattern: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The argv a shell request ran, from its preview's first line (`run ["ls","a"]`).
fn argv_of_preview(preview: &str) -> Option<Vec<String>> {
    let shown = preview.lines().next()?.strip_prefix("run ")?;
    serde_json::from_str(shown).ok()
}

/// The pattern a shell rule made on `request_id` stores for `pattern`: the request's exact
/// command line when `pattern` is its resource (the program: what a rule gets without a
/// pattern), else `pattern` as given.
fn shell_pattern(conn: &Connection, request_id: Option<&str>, pattern: &str) -> Result<String> {
    let Some(id) = request_id else {
        return Ok(pattern.to_owned());
    };
    let found: Option<(String, String)> = conn
        .prepare_cached("SELECT resource, preview FROM human_requests WHERE id = ?1")?
        .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    match found {
        Some((resource, preview)) if resource == pattern => match argv_of_preview(&preview) {
            Some(argv) if !argv.is_empty() => Ok(literal_glob(&command_line(&argv))),
            _ => Err(HumanError::Invalid(format!(
                "cannot tell which command {id} ran: give a pattern over the command line"
            ))),
        },
        _ => Ok(pattern.to_owned()),
    }
}

/// Checks a rule's action (exact: no pattern) and resource pattern.
fn check(action: &str, resource: &str) -> Result<()> {
    if action.contains('*') {
        return Err(HumanError::Invalid(format!(
            "a rule names one action, not the pattern {action:?}"
        )));
    }
    if is_shell(action) {
        return match line_glob(resource) {
            Some(_) if !resource.is_empty() => Ok(()),
            _ => Err(HumanError::Invalid(format!(
                "rule pattern {resource:?}: not a glob over command lines"
            ))),
        };
    }
    if resource.starts_with('/') || resource.split('/').any(|seg| seg == "..") {
        return Err(HumanError::Invalid(format!(
            "rule pattern {resource:?}: resources are relative paths without `..`"
        )));
    }
    Capability::new(action, resource)
        .map(|_| ())
        .map_err(|e| HumanError::Invalid(format!("rule pattern: {e}")))
}

/// Stores a rule and returns it.
pub(crate) fn add(
    conn: &Connection,
    (image, action, resource): (&str, &str, &str),
    effect: RuleEffect,
    (request_id, by): (Option<&str>, Option<&str>),
    now: i64,
) -> Result<Rule> {
    let shell;
    let resource = if is_shell(action) {
        shell = shell_pattern(conn, request_id, resource)?;
        shell.as_str()
    } else {
        resource
    };
    check(action, resource)?;
    conn.prepare_cached(
        "INSERT INTO human_rules (image, action, resource, effect, request_id, decided_by,
             created_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        image,
        action,
        resource,
        effect.as_str(),
        request_id,
        by,
        now
    ])?;
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM human_rules WHERE id = ?1"))?
        .query_row(params![conn.last_insert_rowid()], decode)?)
}

/// The rule that answers `action` on `resource` for `image`: a `never` over any `always`,
/// else the newest `always`. For a shell action, `resource` is the call's
/// [`command_line`].
pub(crate) fn find(
    conn: &Connection,
    image: &str,
    action: &str,
    resource: &str,
) -> Result<Option<Rule>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM human_rules WHERE image = ?1 AND action = ?2 ORDER BY id DESC"
    ))?;
    let rules = stmt
        .query_map(params![image, action], decode)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut found: Option<Rule> = None;
    for rule in rules {
        let applies = if is_shell(action) {
            line_glob(&rule.resource).is_some_and(|g| g.is_match(resource))
        } else {
            covers(&rule.action, &rule.resource, resource)
        };
        if !applies {
            continue;
        }
        if rule.effect == RuleEffect::Never {
            return Ok(Some(rule));
        }
        found.get_or_insert(rule);
    }
    Ok(found)
}

/// Whether a rule for `action` with resource `pattern` applies to `resource` (the resource a
/// request asked about). For a shell action the resource is the program, and the pattern
/// covers it when it is the program or its first word matches it.
pub(crate) fn covers(action: &str, pattern: &str, resource: &str) -> bool {
    if is_shell(action) {
        let first = pattern.split(' ').next().unwrap_or_default();
        return pattern == resource || line_glob(first).is_some_and(|g| g.is_match(resource));
    }
    Capability::new(action, pattern)
        .ok()
        .and_then(|c| CapabilitySet::new(vec![c]).ok())
        .is_some_and(|set| set.matching(action, resource).is_some())
}

/// Every rule, oldest first.
pub(crate) fn all(conn: &Connection) -> Result<Vec<Rule>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM human_rules ORDER BY id"))?;
    let rows = stmt.query_map([], decode)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Removes rule `id` and returns it.
pub(crate) fn remove(conn: &Connection, id: u64) -> Result<Rule> {
    let rule = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM human_rules WHERE id = ?1"))?
        .query_row(params![key(id)], decode)
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => HumanError::NoSuchRule(id),
            other => other.into(),
        })?;
    conn.prepare_cached("DELETE FROM human_rules WHERE id = ?1")?
        .execute(params![key(id)])?;
    Ok(rule)
}

/// Every rule stored in the database at `db`, opened read-only (no table: none); for
/// checking them without changing anything (`libos audit verify`).
///
/// # Errors
/// [`crate::HumanError::Store`] when the database cannot be read.
pub fn stored(db: &std::path::Path) -> Result<Vec<Rule>> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'human_rules'",
            [],
            |r| r.get(0),
        )
        .ok();
    if exists.is_none() {
        return Ok(Vec::new());
    }
    all(&conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn command_lines_tell_argvs_apart() {
        assert_eq!(
            command_line(&argv(&["ls", "-la", "src/a.rs"])),
            "ls -la src/a.rs"
        );
        assert_eq!(command_line(&argv(&["ls", "a b"])), "ls 'a b'");
        assert_ne!(
            command_line(&argv(&["ls", "a b"])),
            command_line(&argv(&["ls", "a", "b"]))
        );
        assert_eq!(
            command_line(&argv(&["echo", "it's", ""])),
            r"echo 'it'\''s' ''"
        );
    }

    #[test]
    fn a_literal_glob_matches_its_line_only() {
        let line = command_line(&argv(&["grep", "-r", "a*b[1]{x}", "."]));
        let glob = line_glob(&literal_glob(&line)).unwrap();
        assert!(glob.is_match(&line));
        assert!(!glob.is_match(command_line(&argv(&["grep", "-r", "aXb1x", "."]))));
    }

    #[test]
    fn a_typed_pattern_must_name_the_program() {
        assert!(covers("shell.exec", "ls *", "ls"));
        assert!(covers("shell.exec", "ls", "ls"));
        assert!(!covers("shell.exec", "rm *", "ls"));
        assert!(
            check("shell.exec", "ls /etc/*").is_ok(),
            "absolute paths allowed"
        );
        assert!(check("shell.exec", "").is_err());
        assert_eq!(
            argv_of_preview("run [\"ls\",\"a\"]\nas shell.exec on ls"),
            Some(argv(&["ls", "a"]))
        );
    }
}
