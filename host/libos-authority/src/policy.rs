//! Compiled Cedar policy sets and the annotations this crate gives meaning to.
//!
//! Recognised annotations:
//!
//! * `@id("name")` names a policy; the name is what decisions and the audit log report.
//!   Without it, Cedar's generated id (`policy0`, `policy1`, … in file order) is used.
//!   Names must be unique and non-empty.
//! * `@decision("ask")` on a `permit` makes it "allowed only after a human approves": a
//!   request it permits yields [`crate::Decision::Ask`]. It is rejected on `forbid` policies,
//!   and any other value is rejected, so a typo cannot silently turn into a plain permit.
//!
//! Policy templates (`?principal`, `?resource`) are not supported.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::ffi::DetailedError;
use cedar_policy::{Effect, ParseErrors, PolicyId, PolicySet};
use sha2::{Digest as _, Sha256};

use crate::error::AuthorityError;

/// The annotation key naming a policy.
pub const ID_ANNOTATION: &str = "id";
/// The annotation key marking a permit as needing approval.
pub const DECISION_ANNOTATION: &str = "decision";
/// The only accepted value of [`DECISION_ANNOTATION`].
pub const DECISION_ASK: &str = "ask";
/// Id of the built-in policy of [`Policy::permit_all`].
pub const DEFAULT_PERMIT_ID: &str = "default-permit";

const PERMIT_ALL_SRC: &str = "@id(\"default-permit\")\npermit(principal, action, resource);\n";

/// What this crate knows about one policy of the set.
#[derive(Debug, Clone)]
struct PolicyInfo {
    /// Reported name: the `@id` annotation, else Cedar's id.
    name: String,
    /// Position in the source, used to order reported ids.
    order: usize,
    /// A permit annotated `@decision("ask")`.
    ask: bool,
}

/// One compiled Cedar policy set: an image's `policy.cedar`, a file, or the built-in default.
#[derive(Debug)]
pub(crate) struct Layer {
    set: PolicySet,
    origin: String,
    info: HashMap<PolicyId, PolicyInfo>,
    reads_digest: bool,
    /// SHA-256 of the origin and the source: what makes two layers the same.
    digest: [u8; 32],
}

/// The policy in force for a subject: its own policy set and the sets it inherited (those of
/// a process's ancestors, and of the images it ran before an `exec`), nearest first, each
/// once. A request is decided by every set: a `forbid` (or the lack of a `permit`) in any of
/// them denies, an `ask` in any of them asks, and it is allowed only when every set allows
/// it, so inheriting only ever narrows. Immutable; cheap to clone (the sets are shared).
#[derive(Debug, Clone)]
pub struct Policy {
    own: Arc<Layer>,
    inherited: Arc<[Arc<Layer>]>,
}

impl Policy {
    /// Reads and compiles the policy file at `path`; the file name labels any error.
    ///
    /// # Errors
    /// [`AuthorityError::Io`] when the file cannot be read, [`AuthorityError::PolicyParse`]
    /// when it is not a valid policy set (see [`Policy::parse`]).
    pub fn from_file(path: &Path) -> Result<Self, AuthorityError> {
        let src = std::fs::read_to_string(path).map_err(|source| AuthorityError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(&src, &path.display().to_string())
    }

    /// Compiles Cedar source text. `origin` (usually the file name) labels errors.
    ///
    /// # Errors
    /// [`AuthorityError::PolicyParse`] naming `origin` and listing each problem with its
    /// `line:column`: Cedar syntax errors, templates, duplicate or empty `@id`s, and misused
    /// `@decision` annotations.
    pub fn parse(src: &str, origin: &str) -> Result<Self, AuthorityError> {
        let fail = |message: String| AuthorityError::PolicyParse {
            origin: origin.to_owned(),
            message,
        };
        let set = PolicySet::from_str(src).map_err(|e| fail(describe_parse_errors(src, &e)))?;
        if let Some(template) = set.templates().next() {
            return Err(fail(format!(
                "policy `{}` is a template (uses ?principal or ?resource); templates are not supported",
                template.id()
            )));
        }
        let mut info = HashMap::new();
        let mut names = HashSet::new();
        for policy in set.policies() {
            let cedar_id = policy.id().to_string();
            let name = match policy.annotation(ID_ANNOTATION) {
                Some("") => return Err(fail(format!("policy `{cedar_id}` has an empty @id"))),
                Some(name) => name.to_owned(),
                None => cedar_id.clone(),
            };
            if !names.insert(name.clone()) {
                return Err(fail(format!("duplicate policy id `{name}`")));
            }
            let ask = match policy.annotation(DECISION_ANNOTATION) {
                None => false,
                Some(DECISION_ASK) if policy.effect() == Effect::Permit => true,
                Some(DECISION_ASK) => {
                    return Err(fail(format!(
                        "policy `{name}`: @decision(\"ask\") only applies to permit policies"
                    )));
                }
                Some(other) => {
                    return Err(fail(format!(
                        "policy `{name}`: unknown @decision({other:?}); the only accepted value is \"ask\""
                    )));
                }
            };
            let order = cedar_id
                .strip_prefix("policy")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            info.insert(policy.id().clone(), PolicyInfo { name, order, ask });
        }
        if info.is_empty() {
            tracing::warn!(origin, "policy set is empty: every request will be denied");
        }
        let digest = Sha256::new()
            .chain_update((origin.len() as u64).to_le_bytes())
            .chain_update(origin.as_bytes())
            .chain_update(src.as_bytes())
            .finalize()
            .into();
        Ok(Policy::single(Layer {
            set,
            origin: origin.to_owned(),
            info,
            reads_digest: src.contains("digest"),
            digest,
        }))
    }

    fn single(layer: Layer) -> Policy {
        Policy {
            own: Arc::new(layer),
            inherited: Arc::from([]),
        }
    }

    /// This policy set inheriting `ancestors` (the policy in force of a parent, or of the
    /// image a process ran before an `exec`): decided by its own set and every set of
    /// `ancestors`, each once (see [`Policy`]). Only ever narrower than either.
    #[must_use]
    pub fn inheriting(&self, ancestors: &Policy) -> Policy {
        let mut seen = vec![self.own.digest];
        let mut inherited = Vec::new();
        for layer in ancestors.layers().chain(self.inherited.iter()) {
            if !seen.contains(&layer.digest) {
                seen.push(layer.digest);
                inherited.push(Arc::clone(layer));
            }
        }
        Policy {
            own: Arc::clone(&self.own),
            inherited: inherited.into(),
        }
    }

    /// Every set that decides, its own first, then the inherited ones nearest first.
    pub(crate) fn layers(&self) -> impl Iterator<Item = &Arc<Layer>> {
        std::iter::once(&self.own).chain(self.inherited.iter())
    }

    /// Where each deciding set came from, its own first.
    pub fn origins(&self) -> Vec<&str> {
        self.layers().map(|l| l.origin.as_str()).collect()
    }

    /// Whether it inherits any set besides its own.
    pub fn inherits(&self) -> bool {
        !self.inherited.is_empty()
    }

    /// SHA-256 over every deciding set, in order: equal for two policies that decide alike.
    pub fn chain_digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for layer in self.layers() {
            hasher.update(layer.digest);
        }
        hasher.finalize().into()
    }

    /// The built-in default: one `permit(principal, action, resource);` with id
    /// [`DEFAULT_PERMIT_ID`], so that capabilities alone decide.
    pub fn permit_all() -> Self {
        match Policy::parse(PERMIT_ALL_SRC, "<built-in default>") {
            Ok(policy) => policy,
            Err(e) => {
                // Unreachable for the constant source; fail closed rather than panic.
                tracing::error!(error = %e, "built-in policy failed to compile; denying everything");
                Policy::single(Layer {
                    set: PolicySet::new(),
                    origin: "<built-in default>".to_owned(),
                    info: HashMap::new(),
                    reads_digest: false,
                    digest: [0; 32],
                })
            }
        }
    }

    /// Where its own set came from (file name, or `<built-in default>`).
    pub fn origin(&self) -> &str {
        &self.own.origin
    }

    /// The reported ids of the policies of its own set, in source order.
    pub fn ids(&self) -> Vec<&str> {
        let mut infos: Vec<&PolicyInfo> = self.own.info.values().collect();
        infos.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        infos.into_iter().map(|i| i.name.as_str()).collect()
    }

    /// Number of policies in its own set.
    pub fn len(&self) -> usize {
        self.own.info.len()
    }

    /// True when its own set has no policy (everything is then denied by default).
    pub fn is_empty(&self) -> bool {
        self.own.info.is_empty()
    }

    /// True when the text of any deciding set may read `context.digest`, so that decisions
    /// can depend on the arguments' digest and must be cached per digest. Over-approximates:
    /// any mention of `digest` counts.
    pub fn reads_digest(&self) -> bool {
        self.layers().any(|l| l.reads_digest)
    }
}

impl Layer {
    /// Where the set came from.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    pub(crate) fn set(&self) -> &PolicySet {
        &self.set
    }

    /// Reported name of a Cedar policy id (the id itself when unknown).
    pub(crate) fn name_of(&self, id: &PolicyId) -> String {
        self.info
            .get(id)
            .map_or_else(|| id.to_string(), |i| i.name.clone())
    }

    /// Whether the policy is a permit annotated `@decision("ask")`.
    pub(crate) fn is_ask(&self, id: &PolicyId) -> bool {
        self.info.get(id).is_some_and(|i| i.ask)
    }

    /// Reported names of `ids`, in source order, without duplicates.
    pub(crate) fn names_of<'a>(&self, ids: impl IntoIterator<Item = &'a PolicyId>) -> Vec<String> {
        let mut named: Vec<(usize, String)> = ids
            .into_iter()
            .map(|id| {
                let order = self.info.get(id).map_or(usize::MAX, |i| i.order);
                (order, self.name_of(id))
            })
            .collect();
        named.sort();
        named.dedup();
        named.into_iter().map(|(_, name)| name).collect()
    }
}

/// One line per Cedar parse error: `line L, column C: message (help)`.
fn describe_parse_errors(src: &str, errors: &ParseErrors) -> String {
    let mut out = String::new();
    for (n, error) in errors.iter().enumerate() {
        let detail = DetailedError::from(error);
        if n > 0 {
            out.push_str("; ");
        }
        if let Some(label) = detail.source_locations.first() {
            let (line, column) = line_column(src, label.loc.start);
            let _ = write!(out, "line {line}, column {column}: ");
        }
        out.push_str(&detail.message);
        if let Some(help) = detail.help {
            let _ = write!(out, " ({help})");
        }
    }
    out
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(src.len());
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    let before = &src[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
