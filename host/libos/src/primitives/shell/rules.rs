//! From capability globs to kernel rules: which trees and files of the working directory a
//! command may read or write.
//!
//! A kernel (Landlock) rule names one file or one directory tree; a capability names a glob.
//! A glob is expressed by the trees it covers entirely plus the existing files it matches,
//! never more:
//!
//! * a directory becomes one tree rule only when a held capability covers every path under
//!   it (`**`, or `PREFIX/**` where `PREFIX` matches the directory or one of its ancestors),
//!   the policy forbids nothing found under it nor a new name in it (probed with
//!   [`PROBE`]), the state directory does not lie in it, and the walk saw all of it;
//! * otherwise the directory is split into its children: each existing regular file the
//!   capabilities grant (and the policy does not forbid) gets a rule of its own, each
//!   subdirectory is looked at the same way. A directory itself never gets a rule of its own
//!   (a rule on a directory would cover its whole tree), so listing it or creating a file in
//!   it is refused.
//!
//! Symbolic links, devices, sockets and FIFOs in the working directory never get a rule
//! (inside a tree, a link leads to a file checked where that file lies; a tree holding a
//! device, socket or FIFO is split).
//! The walk is bounded ([`MAX_ENTRIES`]); whatever it did not see is not granted (fail
//! closed: less access, never more), and the plan says so.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use libos_authority::CapabilitySet;

use crate::reserved::Reserved;

/// Most entries of the working directory one plan looks at.
pub const MAX_ENTRIES: usize = 4096;

/// Deepest directory the walk enters.
pub const MAX_DEPTH: usize = 32;

/// A name standing for any file a command could create in a directory: the policy is asked
/// about `DIR/<PROBE>` before `DIR` is granted as a tree.
pub const PROBE: &str = ".libos-any-new-name";

/// What the process may do with one path of the working directory.
pub trait Judge {
    /// Whether a held capability (and the ceiling, if any) covers `action` on every path
    /// under the directory `rel` (`""`: the working directory itself).
    fn covers_tree(&self, action: &str, rel: &str) -> bool;
    /// Whether a held capability covers `action` on `rel`.
    fn holds(&self, action: &str, rel: &str) -> bool;
    /// Whether the policy forbids `action` on `rel` (a `forbid` applies).
    fn forbids(&self, action: &str, rel: &str) -> bool;
}

/// One rule: a path relative to the working directory (`""`: the directory itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The directory and everything under it, present and future.
    Tree(String),
    /// This existing regular file only.
    File(String),
}

/// The rules for one action, and whether the walk was cut short.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The rules, parents before children.
    pub rules: Vec<Rule>,
    /// The working directory has more than the walk looked at: what it did not see is not
    /// granted.
    pub cut_short: bool,
}

/// What the walk found: one node per entry.
#[derive(Debug)]
struct Node {
    rel: String,
    kind: Kind,
    children: Vec<usize>,
    /// Not every child was listed (the bound, the depth, an unreadable directory).
    incomplete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    /// A symbolic link: inside a tree, what it leads to is checked where it lies.
    Link,
    /// A device, socket or FIFO: never granted, nor any tree holding it.
    Other,
}

/// The working directory as far as the walk saw it.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    cut_short: bool,
}

impl Tree {
    /// Walks `root` (bounded by [`MAX_ENTRIES`] and [`MAX_DEPTH`]), never following a
    /// symbolic link and never entering the state directory.
    pub fn walk(root: &Path, reserved: &Reserved) -> Tree {
        let mut tree = Tree {
            nodes: vec![Node {
                rel: String::new(),
                kind: Kind::Dir,
                children: Vec::new(),
                incomplete: false,
            }],
            cut_short: false,
        };
        let mut queue = vec![(0usize, 0usize)];
        // Breadth first, so a bound cuts the deepest parts off.
        let mut next = 0;
        while next < queue.len() {
            let (index, depth) = queue[next];
            next += 1;
            let rel = tree.nodes[index].rel.clone();
            if reserved.covers(&rel) {
                continue;
            }
            if depth >= MAX_DEPTH {
                tree.nodes[index].incomplete = true;
                tree.cut_short = true;
                continue;
            }
            let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
                tree.nodes[index].incomplete = true;
                continue;
            };
            for entry in entries {
                if tree.nodes.len() > MAX_ENTRIES {
                    tree.nodes[index].incomplete = true;
                    tree.cut_short = true;
                    break;
                }
                let Ok(entry) = entry else {
                    tree.nodes[index].incomplete = true;
                    continue;
                };
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    // No capability can name it: nothing under the parent is a tree.
                    tree.nodes[index].incomplete = true;
                    continue;
                };
                let kind = match entry.file_type() {
                    Ok(t) if t.is_dir() => Kind::Dir,
                    Ok(t) if t.is_file() => Kind::File,
                    Ok(t) if t.is_symlink() => Kind::Link,
                    _ => Kind::Other,
                };
                let child_rel = if rel.is_empty() {
                    name.to_owned()
                } else {
                    format!("{rel}/{name}")
                };
                let child = tree.nodes.len();
                tree.nodes.push(Node {
                    rel: child_rel,
                    kind,
                    children: Vec::new(),
                    incomplete: false,
                });
                tree.nodes[index].children.push(child);
                if kind == Kind::Dir {
                    queue.push((child, depth + 1));
                }
            }
            if tree.cut_short && tree.nodes.len() > MAX_ENTRIES {
                // The bound is reached: the directories still queued stay unlisted.
                for &(i, _) in &queue[next..] {
                    tree.nodes[i].incomplete = true;
                }
                break;
            }
        }
        tree
    }

    /// The rules granting `action` (see the module docs).
    pub fn plan(&self, action: &str, reserved: &Reserved, judge: &dyn Judge) -> Plan {
        // Post-order: whether each directory may be granted as a whole tree.
        let mut whole = vec![false; self.nodes.len()];
        for index in (0..self.nodes.len()).rev() {
            let node = &self.nodes[index];
            whole[index] = match node.kind {
                Kind::Link => true,
                Kind::Other => false,
                Kind::File => {
                    !reserved.covers(&node.rel)
                        && judge.holds(action, &node.rel)
                        && !judge.forbids(action, &node.rel)
                }
                Kind::Dir => {
                    let probe = child_of(&node.rel, PROBE);
                    !node.incomplete
                        && !reserved.covers(&node.rel)
                        && !reserved.is_above(&node.rel)
                        && judge.covers_tree(action, &node.rel)
                        && (node.rel.is_empty() || !judge.forbids(action, &node.rel))
                        && judge.holds(action, &probe)
                        && !judge.forbids(action, &probe)
                        && node.children.iter().all(|&c| whole[c])
                }
            };
        }
        let mut plan = Plan {
            rules: Vec::new(),
            cut_short: self.cut_short,
        };
        let mut stack = vec![0usize];
        while let Some(index) = stack.pop() {
            let node = &self.nodes[index];
            match node.kind {
                Kind::Link | Kind::Other => {}
                Kind::File => {
                    if whole[index] {
                        plan.rules.push(Rule::File(node.rel.clone()));
                    }
                }
                Kind::Dir if whole[index] => plan.rules.push(Rule::Tree(node.rel.clone())),
                Kind::Dir => {
                    if !reserved.covers(&node.rel) {
                        stack.extend(node.children.iter().rev());
                    }
                }
            }
        }
        plan
    }
}

fn child_of(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// The capabilities that cover whole trees for one action: `**` and `PREFIX/**`.
#[derive(Debug, Default)]
pub struct TreeGlobs {
    everything: bool,
    prefixes: Vec<GlobMatcher>,
}

impl TreeGlobs {
    /// The tree-covering capabilities of `caps` for `action`.
    pub fn of(caps: &CapabilitySet, action: &str) -> TreeGlobs {
        let mut globs = TreeGlobs::default();
        for cap in caps {
            if !action_covers(&cap.action, action) {
                continue;
            }
            if cap.resource == "**" {
                globs.everything = true;
            } else if let Some(prefix) = cap.resource.strip_suffix("/**")
                && !prefix.is_empty()
                && let Ok(glob) = GlobBuilder::new(prefix).literal_separator(true).build()
            {
                globs.prefixes.push(glob.compile_matcher());
            }
        }
        globs
    }

    /// Whether every path under the directory `rel` is covered.
    pub fn covers(&self, rel: &str) -> bool {
        if self.everything {
            return true;
        }
        if rel.is_empty() || rel.split('/').any(|s| s == "..") {
            return false;
        }
        // `rel` itself or one of its ancestors matches a prefix.
        let mut end = rel.len();
        loop {
            let ancestor = &rel[..end];
            if self.prefixes.iter().any(|p| p.is_match(ancestor)) {
                return true;
            }
            match ancestor.rfind('/') {
                Some(i) => end = i,
                None => return false,
            }
        }
    }
}

/// Whether the capability action pattern `pattern` (`fs.read`, `fs.*`, `*`) covers `action`.
pub fn action_covers(pattern: &str, action: &str) -> bool {
    pattern == "*"
        || pattern == action
        || pattern
            .strip_suffix('*')
            .is_some_and(|family| family.ends_with('.') && action.starts_with(family))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libos_authority::Capability;

    /// Capabilities from strings, and a forbid on paths that start with one of `forbidden`.
    struct Fake {
        caps: CapabilitySet,
        forbidden: Vec<&'static str>,
    }

    impl Fake {
        fn new(caps: &[&str], forbidden: Vec<&'static str>) -> Fake {
            let caps: Vec<Capability> = caps.iter().map(|c| c.parse().unwrap()).collect();
            Fake {
                caps: CapabilitySet::new(caps).unwrap(),
                forbidden,
            }
        }
    }

    impl Judge for Fake {
        fn covers_tree(&self, action: &str, rel: &str) -> bool {
            TreeGlobs::of(&self.caps, action).covers(rel)
        }
        fn holds(&self, action: &str, rel: &str) -> bool {
            self.caps.matching(action, rel).is_some()
        }
        fn forbids(&self, _: &str, rel: &str) -> bool {
            self.forbidden.iter().any(|f| rel.starts_with(f))
        }
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in ["src/deep", "granted/sub", "secrets", "state/cache", "docs"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        for f in [
            "a.txt",
            "b.rs",
            "src/main.rs",
            "src/deep/x.rs",
            "granted/g.txt",
            "granted/sub/h.txt",
            "secrets/key",
            "state/libos.db",
            "docs/readme.md",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/shadow", p.join("src/link")).unwrap();
        dir
    }

    fn plan(caps: &[&str], forbidden: Vec<&'static str>, reserved: &Reserved) -> Vec<Rule> {
        let dir = fixture();
        let tree = Tree::walk(dir.path(), reserved);
        let plan = tree.plan("fs.read", reserved, &Fake::new(caps, forbidden));
        assert!(!plan.cut_short);
        plan.rules
    }

    fn sorted(mut rules: Vec<Rule>) -> Vec<Rule> {
        rules.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        rules
    }

    #[test]
    fn everything_is_one_tree_when_nothing_is_held_back() {
        let rules = plan(&["fs.read:**"], vec![], &Reserved::Elsewhere);
        assert_eq!(rules, vec![Rule::Tree(String::new())]);
    }

    #[test]
    fn a_prefix_glob_is_its_tree_and_nothing_else() {
        let rules = plan(&["fs.read:granted/**"], vec![], &Reserved::Elsewhere);
        assert_eq!(rules, vec![Rule::Tree("granted".into())]);
        let rules = plan(&["fs.*:s*/**"], vec![], &Reserved::Elsewhere);
        assert_eq!(
            sorted(rules),
            vec![
                Rule::Tree("secrets".into()),
                Rule::Tree("src".into()),
                Rule::Tree("state".into())
            ]
        );
    }

    #[test]
    fn a_file_glob_grants_the_existing_files_it_matches_only() {
        let rules = plan(
            &["fs.read:*.rs", "fs.read:src/*"],
            vec![],
            &Reserved::Elsewhere,
        );
        assert_eq!(
            sorted(rules),
            vec![Rule::File("b.rs".into()), Rule::File("src/main.rs".into())],
            "no directory, no link, nothing deeper"
        );
        assert!(plan(&["fs.write:**"], vec![], &Reserved::Elsewhere).is_empty());
    }

    #[test]
    fn a_forbidden_path_splits_the_trees_above_it() {
        let rules = plan(&["fs.read:**"], vec!["secrets/"], &Reserved::Elsewhere);
        let rules = sorted(rules);
        assert!(!rules.contains(&Rule::Tree(String::new())));
        assert!(!rules.contains(&Rule::Tree("secrets".into())));
        assert!(!rules.contains(&Rule::File("secrets/key".into())));
        for kept in ["src", "granted", "state", "docs"] {
            assert!(
                rules.contains(&Rule::Tree(kept.into())),
                "{kept}: {rules:?}"
            );
        }
        assert!(rules.contains(&Rule::File("a.txt".into())));
    }

    #[test]
    fn the_state_directory_and_its_parents_are_never_granted() {
        let reserved = Reserved::At("state/cache".into());
        let rules = sorted(plan(&["fs.read:**"], vec![], &reserved));
        assert!(!rules.contains(&Rule::Tree(String::new())));
        assert!(!rules.contains(&Rule::Tree("state".into())));
        assert!(rules.contains(&Rule::File("state/libos.db".into())));
        assert!(
            !rules
                .iter()
                .any(|r| format!("{r:?}").contains("state/cache"))
        );
        let rules = plan(&["fs.read:**"], vec![], &Reserved::At("state".into()));
        assert!(!rules.iter().any(|r| format!("{r:?}").contains("state")));
        assert!(plan(&["fs.read:**"], vec![], &Reserved::Everything).is_empty());
    }

    #[test]
    fn a_walk_past_its_bound_grants_less_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("big")).unwrap();
        for i in 0..MAX_ENTRIES + 10 {
            std::fs::write(dir.path().join(format!("big/{i}")), "").unwrap();
        }
        let tree = Tree::walk(dir.path(), &Reserved::Elsewhere);
        let plan = tree.plan(
            "fs.read",
            &Reserved::Elsewhere,
            &Fake::new(&["fs.read:**"], vec![]),
        );
        assert!(plan.cut_short);
        assert!(!plan.rules.contains(&Rule::Tree(String::new())));
        assert!(!plan.rules.contains(&Rule::Tree("big".into())));
        assert!(plan.rules.len() <= MAX_ENTRIES);
    }

    #[test]
    fn tree_globs_and_action_patterns() {
        let caps = CapabilitySet::new(vec![
            "fs.read:src/**".parse().unwrap(),
            "fs.*:out/*/**".parse().unwrap(),
            "fs.write:*.txt".parse().unwrap(),
        ])
        .unwrap();
        let read = TreeGlobs::of(&caps, "fs.read");
        assert!(read.covers("src") && read.covers("src/a/b") && read.covers("out/x"));
        assert!(!read.covers("") && !read.covers("srcx") && !read.covers("out"));
        let write = TreeGlobs::of(&caps, "fs.write");
        assert!(!write.covers("src") && write.covers("out/y/z") && !write.covers("a.txt"));
        assert!(action_covers("fs.*", "fs.write") && action_covers("*", "x"));
        assert!(!action_covers("fs.read", "fs.write") && !action_covers("f*", "fs.read"));
    }
}
