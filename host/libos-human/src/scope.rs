//! How far an approval reaches: the scope of the grant it mints.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::HumanError;

/// Most uses a `uses=N` approval may grant.
pub const MAX_USES: u32 = 10_000;

/// Longest a `ttl=` approval may last.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The reach of one approval. Whatever the scope, the grant covers only the process, action,
/// resource, argument digest and target version that were approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The first successful matching call (the default).
    Once,
    /// The first `n` successful matching calls.
    Uses(u32),
    /// Every matching call for this long after the approval.
    Ttl(Duration),
    /// Every matching call for the rest of the process's life.
    Session,
}

impl Scope {
    /// How many uses the grant starts with (`None`: unlimited).
    pub(crate) fn uses(self) -> Option<i64> {
        match self {
            Scope::Once => Some(1),
            Scope::Uses(n) => Some(i64::from(n)),
            Scope::Ttl(_) | Scope::Session => None,
        }
    }

    /// When a grant made at `now_ns` expires (`None`: never by time).
    pub(crate) fn expires(self, now_ns: i64) -> Option<i64> {
        match self {
            Scope::Ttl(d) => Some(crate::sql::plus(now_ns, d)),
            _ => None,
        }
    }
}

impl FromStr for Scope {
    type Err = HumanError;

    /// Parses `once`, `uses=N` (1 to [`MAX_USES`]), `ttl=DURATION` (`30s`, `10m`, `2h`; at
    /// most [`MAX_TTL`]) or `session`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            HumanError::Invalid(format!(
                "scope {s:?}: {why} (expected once, uses=N, ttl=DURATION or session)"
            ))
        };
        match s.split_once('=') {
            None if s == "once" => Ok(Scope::Once),
            None if s == "session" => Ok(Scope::Session),
            None => Err(bad("unknown scope")),
            Some(("uses", n)) => match n.parse::<u32>() {
                Ok(n) if (1..=MAX_USES).contains(&n) => Ok(Scope::Uses(n)),
                _ => Err(bad(&format!(
                    "N must be a whole number from 1 to {MAX_USES}"
                ))),
            },
            Some(("ttl", d)) => match humantime::parse_duration(d) {
                Ok(d) if !d.is_zero() && d <= MAX_TTL => Ok(Scope::Ttl(d)),
                Ok(_) => Err(bad("the duration must be above zero and at most 30 days")),
                Err(e) => Err(bad(&format!("bad duration: {e}"))),
            },
            Some(_) => Err(bad("unknown scope")),
        }
    }
}

impl fmt::Display for Scope {
    /// Writes the form [`Scope::from_str`] parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Once => f.write_str("once"),
            Scope::Uses(n) => write!(f, "uses={n}"),
            Scope::Ttl(d) => write!(f, "ttl={}", humantime::format_duration(*d)),
            Scope::Session => f.write_str("session"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scope_and_prints_it_back() {
        for text in ["once", "uses=3", "ttl=10m", "session"] {
            let scope: Scope = text.parse().unwrap_or(Scope::Once);
            assert_eq!(
                scope.to_string().parse::<Scope>().ok(),
                Some(scope),
                "{text}"
            );
        }
        assert_eq!("uses=3".parse::<Scope>().ok(), Some(Scope::Uses(3)));
        assert_eq!(
            "ttl=90s".parse::<Scope>().ok(),
            Some(Scope::Ttl(Duration::from_secs(90)))
        );
    }

    #[test]
    fn refuses_what_is_not_a_scope_and_says_what_is() {
        for bad in [
            "",
            "twice",
            "uses=0",
            "uses=-1",
            "uses=x",
            "uses=10001",
            "ttl=0s",
            "ttl=forever",
            "ttl=400d",
            "once=1",
            "session=2",
            "always",
        ] {
            let err = bad
                .parse::<Scope>()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("expected once, uses=N"), "{bad:?}: {err}");
        }
    }
}
