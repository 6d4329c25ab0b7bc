//! The spelling rules for image names, versions and tool names, and how versions sort.

use std::cmp::Ordering;

/// The longest image name and version.
pub(crate) const MAX_NAME_LEN: usize = 63;
/// The longest version string.
pub(crate) const MAX_VERSION_LEN: usize = 64;
/// The longest tool name.
pub(crate) const MAX_TOOL_NAME_LEN: usize = 64;

/// Image names reserved because they would clash with reference syntax.
const RESERVED_NAMES: &[&str] = &["sha256"];

/// Checks an image name: `[a-z0-9][a-z0-9_-]{0,62}`, and not a reserved word (`sha256`).
pub(crate) fn check_image_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !rest_ok || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "invalid image name {name:?}: use 1 to {MAX_NAME_LEN} characters from a-z, 0-9, \
             `-` and `_`, starting with a letter or digit"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("image name {name:?} is reserved"));
    }
    Ok(())
}

/// Checks a version: 1 to 64 characters, none of them whitespace or control characters.
pub(crate) fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() {
        return Err("the version is empty".to_owned());
    }
    if version.chars().count() > MAX_VERSION_LEN {
        return Err(format!(
            "version {version:?} is longer than {MAX_VERSION_LEN} characters"
        ));
    }
    if version.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "version {version:?} contains whitespace or control characters"
        ));
    }
    Ok(())
}

/// Checks a tool name: `[a-z0-9_-]{1,64}`.
pub fn check_tool_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_TOOL_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tool name {name:?}: use 1 to {MAX_TOOL_NAME_LEN} characters from a-z, 0-9, \
             `-` and `_`"
        ))
    }
}

/// Orders versions "naturally": runs of digits compare as numbers (`0.2.0` < `0.10.0`), other
/// text compares byte-wise; ties fall back to plain string order so the order is total.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.split_first(), y.split_first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((p, _)), Some((q, _))) if p.is_ascii_digit() && q.is_ascii_digit() => {
                let (dx, rx) = split_digits(x);
                let (dy, ry) = split_digits(y);
                let (tx, ty) = (trim_zeros(dx), trim_zeros(dy));
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (rx, ry);
            }
            (Some((p, rx)), Some((q, ry))) => {
                if p != q {
                    return p.cmp(q);
                }
                (x, y) = (rx, ry);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|b| *b != b'0')
        .unwrap_or(digits.len());
    digits.split_at(start).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert!(check_image_name("coding-agent").is_ok());
        assert!(check_image_name("a").is_ok());
        assert!(check_image_name("0_x").is_ok());
        assert!(check_image_name(&"a".repeat(63)).is_ok());
        assert!(check_image_name(&"a".repeat(64)).is_err());
        assert!(check_image_name("").is_err());
        assert!(check_image_name("-x").is_err());
        assert!(check_image_name("Coding").is_err());
        assert!(check_image_name("a b").is_err());
        assert!(check_image_name("sha256").is_err());
    }

    #[test]
    fn versions() {
        assert!(check_version("0.1.0").is_ok());
        assert!(check_version("").is_err());
        assert!(check_version("1 0").is_err());
        assert!(check_version(&"1".repeat(65)).is_err());
    }

    #[test]
    fn version_order() {
        let mut v = vec!["0.10.0", "0.2.0", "0.2.0-rc1", "1.0", "0.9", "a", "01"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, ["0.2.0", "0.2.0-rc1", "0.9", "0.10.0", "01", "1.0", "a"]);
    }
}
