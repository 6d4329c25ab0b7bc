//! Loading policies as the host uses them: the user's Cedar rules plus one built-in rule that
//! permits the ambient actions (`clock.read`, `log.write`), so that a policy file written for
//! files does not silently take the clock and the log away. A `forbid` in the user's rules
//! still wins over it.

use std::path::Path;

use libos_authority::Policy;

use crate::error::HostError;

/// Id of the built-in rule permitting the ambient actions.
pub const AMBIENT_POLICY_ID: &str = "libos-ambient";

const AMBIENT_POLICY: &str = r#"
@id("libos-ambient")
permit(principal, action in [Action::"clock.read", Action::"log.write"], resource);
"#;

/// Parses Cedar source named `origin` (used in error messages) plus the ambient rule.
pub fn parse(source: &str, origin: &str) -> Result<Policy, HostError> {
    let mut text = String::with_capacity(source.len() + AMBIENT_POLICY.len() + 1);
    text.push_str(source);
    text.push('\n');
    text.push_str(AMBIENT_POLICY);
    Ok(Policy::parse(&text, origin)?)
}

/// Reads and parses a Cedar policy file plus the ambient rule.
pub fn load(path: &Path) -> Result<Policy, HostError> {
    let source = std::fs::read_to_string(path).map_err(|source| HostError::PolicyFile {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&source, &path.display().to_string())
}
