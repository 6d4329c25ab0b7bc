//! Standing answers: `always` and `never` for an image, an action and a resource pattern.

use libos_authority::{Capability, CapabilitySet};
use rusqlite::{Connection, params};
use serde::Serialize;

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
    fn as_str(self) -> &'static str {
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

/// Checks a rule's action (exact: no pattern) and resource pattern.
fn check(action: &str, resource: &str) -> Result<()> {
    if action.contains('*') {
        return Err(HumanError::Invalid(format!(
            "a rule names one action, not the pattern {action:?}"
        )));
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
/// else the newest `always`.
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
        if !covers(&rule.action, &rule.resource, resource) {
            continue;
        }
        if rule.effect == RuleEffect::Never {
            return Ok(Some(rule));
        }
        found.get_or_insert(rule);
    }
    Ok(found)
}

/// Whether a rule for `action` with resource `pattern` applies to `resource`.
pub(crate) fn covers(action: &str, pattern: &str, resource: &str) -> bool {
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
