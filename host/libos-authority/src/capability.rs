//! Capabilities: explicit grants of an action pattern on a resource pattern.
//!
//! The CLI syntax is `ACTION[:RESOURCE]`:
//!
//! * `ACTION` is an exact action (`fs.read`), a family (`fs.*`, which covers every action that
//!   starts with `fs.`), or `*` (every action). Action names are dot-separated segments of
//!   ASCII letters, digits, `_` and `-`.
//! * `RESOURCE` is a glob over `/`-separated resource strings: `*` matches within one segment
//!   (it never crosses `/`), `**` matches across segments, `?`, `[...]` and `{a,b}` work as
//!   usual. An omitted resource means `**` (everything). An empty resource is invalid.
//!
//! Only the first `:` separates the action from the resource, so a resource may itself
//! contain `:`.

use std::fmt;
use std::str::FromStr;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use globset::{Candidate, GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::error::AuthorityError;

/// The resource pattern meaning "every resource".
pub const ANY_RESOURCE: &str = "**";

/// An explicit grant: `action` pattern on `resource` pattern.
///
/// A `Capability` is plain data; it is validated when parsed ([`FromStr`]) and again when
/// compiled into a [`CapabilitySet`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Capability {
    /// Action pattern: `fs.read`, `fs.*` or `*`.
    pub action: String,
    /// Resource glob: `docs/**`, `out/*.txt`, `**`.
    pub resource: String,
}

impl Capability {
    /// Builds and validates a capability from its two patterns.
    ///
    /// # Errors
    /// [`AuthorityError::InvalidCapability`] when either pattern is malformed.
    pub fn new(
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> Result<Self, AuthorityError> {
        let cap = Capability {
            action: action.into(),
            resource: resource.into(),
        };
        CompiledCapability::compile(&cap)?;
        Ok(cap)
    }
}

impl FromStr for Capability {
    type Err = AuthorityError;

    /// Parses `ACTION[:RESOURCE]`; see the module docs for the pattern syntax.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (action, resource) = match s.split_once(':') {
            Some((action, resource)) => (action, resource),
            None => (s, ANY_RESOURCE),
        };
        Capability::new(action, resource)
    }
}

impl fmt::Display for Capability {
    /// Writes `ACTION:RESOURCE`, which parses back to the same capability.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.action, self.resource)
    }
}

/// How an action pattern matches action names.
#[derive(Debug, Clone)]
enum ActionPattern {
    /// `*`: every action.
    Any,
    /// `fs.*`: every action starting with the stored prefix (which includes the trailing dot).
    Family(String),
    /// `fs.read`: exactly this action.
    Exact(String),
}

impl ActionPattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("empty action pattern".to_owned());
        }
        if pattern == "*" {
            return Ok(ActionPattern::Any);
        }
        let (name, family) = match pattern.strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (pattern, false),
        };
        for segment in name.split('.') {
            if segment.is_empty() {
                return Err(format!("empty segment in action pattern `{pattern}`"));
            }
            if let Some(bad) = segment
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
            {
                return Err(format!(
                    "character {bad:?} not allowed in action pattern `{pattern}` \
                     (use `name`, `family.*` or `*`)"
                ));
            }
        }
        Ok(if family {
            ActionPattern::Family(format!("{name}."))
        } else {
            ActionPattern::Exact(name.to_owned())
        })
    }

    fn matches(&self, action: &str) -> bool {
        match self {
            ActionPattern::Any => true,
            ActionPattern::Family(prefix) => action.starts_with(prefix.as_str()),
            ActionPattern::Exact(name) => action == name,
        }
    }
}

/// How a resource pattern matches resource strings.
#[derive(Debug, Clone)]
enum ResourcePattern {
    /// `**`: every resource.
    Any,
    /// A pattern without glob metacharacters: plain string equality.
    Literal(String),
    /// A compiled glob, shared by every set holding the same pattern (see [`shared_glob`]).
    Glob(Arc<GlobMatcher>),
}

impl ResourcePattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("empty resource pattern (omit `:RESOURCE` to mean `**`)".to_owned());
        }
        if pattern == ANY_RESOURCE {
            return Ok(ResourcePattern::Any);
        }
        if !pattern.contains(['*', '?', '[', ']', '{', '}', '\\']) {
            return Ok(ResourcePattern::Literal(pattern.to_owned()));
        }
        Ok(ResourcePattern::Glob(shared_glob(pattern)?))
    }

    fn matches(&self, resource: &str, candidate: &Candidate<'_>) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Literal(lit) => resource == lit,
            ResourcePattern::Glob(m) => m.is_match_candidate(candidate),
        }
    }
}

/// Compiled globs kept for reuse at most (patterns come from images and from spawns, so a
/// guest could otherwise grow the map without bound; past this, globs are compiled per set).
const SHARED_GLOBS: usize = 4_096;

/// The compiled matcher of the resource glob `pattern`. A glob compiles to a regular
/// expression (microseconds and a few KiB): every process holds the same ambient patterns and
/// usually its image's, so each distinct pattern is compiled once per host and shared.
fn shared_glob(pattern: &str) -> Result<Arc<GlobMatcher>, String> {
    static COMPILED: LazyLock<Mutex<HashMap<String, Arc<GlobMatcher>>>> =
        LazyLock::new(Mutex::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(matcher) = compiled.get(pattern) {
        return Ok(Arc::clone(matcher));
    }
    let matcher = Arc::new(
        GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("bad resource glob: {}", e.kind()))?
            .compile_matcher(),
    );
    if compiled.len() < SHARED_GLOBS {
        compiled.insert(pattern.to_owned(), Arc::clone(&matcher));
    }
    Ok(matcher)
}

/// One capability with its patterns compiled.
#[derive(Debug, Clone)]
struct CompiledCapability {
    action: ActionPattern,
    resource: ResourcePattern,
}

impl CompiledCapability {
    fn compile(cap: &Capability) -> Result<Self, AuthorityError> {
        let invalid = |reason: String| AuthorityError::InvalidCapability {
            capability: cap.to_string(),
            reason,
        };
        Ok(CompiledCapability {
            action: ActionPattern::parse(&cap.action).map_err(invalid)?,
            resource: ResourcePattern::parse(&cap.resource).map_err(invalid)?,
        })
    }
}

/// True when `resource` has a `..` segment, i.e. it is not a normalized path.
///
/// Globs match strings, not paths, so `docs/**` would match `docs/../secrets/key`; such
/// resources are therefore never covered by any grant.
pub(crate) fn has_parent_segment(resource: &str) -> bool {
    resource.split('/').any(|segment| segment == "..")
}

/// A compiled set of capabilities, held by one subject.
///
/// Matching does not allocate: every glob is compiled once, in [`CapabilitySet::new`].
#[derive(Debug, Clone, Default)]
pub struct CapabilitySet {
    caps: Vec<Capability>,
    compiled: Vec<CompiledCapability>,
}

impl CapabilitySet {
    /// Compiles `caps`, keeping their order (which decides which grant [`Self::matching`]
    /// reports when several cover a request).
    ///
    /// # Errors
    /// [`AuthorityError::InvalidCapability`] naming the first malformed capability.
    pub fn new(caps: Vec<Capability>) -> Result<Self, AuthorityError> {
        let compiled = caps
            .iter()
            .map(CompiledCapability::compile)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CapabilitySet { caps, compiled })
    }

    /// The first capability covering `action` on `resource`, or `None`.
    ///
    /// A resource containing a `..` segment is never covered.
    pub fn matching(&self, action: &str, resource: &str) -> Option<&Capability> {
        self.matching_index(action, resource)
            .and_then(|i| self.caps.get(i))
    }

    /// Index (in [`Self::iter`] order) of the first capability covering the pair.
    pub(crate) fn matching_index(&self, action: &str, resource: &str) -> Option<usize> {
        if has_parent_segment(resource) {
            return None;
        }
        let candidate = Candidate::from_bytes(resource.as_bytes());
        self.compiled
            .iter()
            .position(|c| c.action.matches(action) && c.resource.matches(resource, &candidate))
    }

    /// The capabilities, in the order given to [`Self::new`].
    pub fn iter(&self) -> std::slice::Iter<'_, Capability> {
        self.caps.iter()
    }

    /// Number of capabilities held.
    pub fn len(&self) -> usize {
        self.caps.len()
    }

    /// True when no capability is held (every request is then denied).
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty()
    }
}

impl<'a> IntoIterator for &'a CapabilitySet {
    type Item = &'a Capability;
    type IntoIter = std::slice::Iter<'a, Capability>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
