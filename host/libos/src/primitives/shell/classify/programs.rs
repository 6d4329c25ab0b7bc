//! Programs whose class depends on their arguments: hooks that run a command of the
//! caller's choosing (tar, zip, sort), scripts that run commands or write files (sed),
//! options or operands that overwrite files (sort -o, uniq IN OUT, tar -x), and version
//! control, which runs hooks and commands from the repository's own configuration.

use super::Class;

/// The class of `name` run with `args`, when its arguments decide it.
pub(super) fn by_arguments(name: &str, args: &[String]) -> Option<Class> {
    Some(match name {
        "git" => git(args),
        "tar" => tar(args),
        "zip" => zip(args),
        "unzip" => unzip(args),
        "sed" => sed(args),
        "sort" => sort(args),
        "uniq" => uniq(args),
        _ => return None,
    })
}

/// The letters of short options: a dashed bundle (`-xzf`), not a long option.
fn short_letters(arg: &str) -> Option<&str> {
    arg.strip_prefix('-').filter(|rest| !rest.starts_with('-'))
}

/// Whether a long option `--name` or `--name=…` is among `args`.
fn has_long(args: &[String], names: &[&str]) -> bool {
    args.iter()
        .any(|a| names.iter().any(|n| long_matches(a, n)))
}

/// Whether `arg` names the long option `name` (`--name`, `--name=…`), or any abbreviation of
/// it GNU `getopt_long` would accept (`--out=x` for `--output`, `--in-pl` for
/// `--in-place`). An abbreviation another option shares is taken for `name` too: the
/// program would refuse it or pick one of them, so reading it as the more dangerous one is
/// never less strict.
pub(super) fn long_matches(arg: &str, name: &str) -> bool {
    let given = arg.split_once('=').map_or(arg, |(option, _)| option);
    given.len() > 2 && given.starts_with("--") && name.starts_with(given)
}

/// tar: a command hook (`--to-command`, `--checkpoint-action=exec=…`, `-I`/
/// `--use-compress-program`, `-F`/`--info-script`, `--rsh-command`, …) is an interpreter;
/// anything but listing writes files.
fn tar(args: &[String]) -> Class {
    const HOOKS: &[&str] = &[
        "--to-command",
        "--use-compress-program",
        "--info-script",
        "--new-volume-script",
        "--rsh-command",
        "--rmt-command",
        "--checkpoint-action",
        "--index-file",
    ];
    // Old style: the first argument is a bundle without a dash (`tar xzf a.tar`).
    let mut letters = String::new();
    for (i, a) in args.iter().enumerate() {
        if let Some(l) = short_letters(a) {
            letters.push_str(l);
        } else if i == 0 && !a.starts_with('-') {
            letters.push_str(a);
        }
    }
    if has_long(args, HOOKS) || letters.contains(['I', 'F']) {
        return Class::Interpreter;
    }
    // `host:file` is an archive reached through rsh (unless --force-local).
    if !has_long(args, &["--force-local"])
        && args.iter().any(|a| !a.starts_with('-') && a.contains(':'))
    {
        return Class::Network;
    }
    // Writes its volume number to a file even when listing.
    if has_long(args, &["--volno-file"]) {
        return Class::Destructive;
    }
    let lists = letters.contains('t') || has_long(args, &["--list"]);
    let writes = letters.contains(['x', 'c', 'r', 'u', 'A'])
        || has_long(
            args,
            &[
                "--extract",
                "--get",
                "--create",
                "--append",
                "--update",
                "--catenate",
                "--concatenate",
                "--delete",
            ],
        );
    if lists && !writes {
        Class::Exec
    } else {
        Class::Destructive
    }
}

/// zip: `-TT`/`--unzip-command` runs a command; otherwise it writes an archive.
fn zip(args: &[String]) -> Class {
    if args.iter().any(|a| a == "-TT") || has_long(args, &["--unzip-command"]) {
        Class::Interpreter
    } else {
        Class::Destructive
    }
}

/// unzip: listing, testing and printing read; extracting writes. It reads only when its
/// options are one plain bundle of those letters before anything else (`-l a.zip`, `-tq
/// a.zip`): a `-` inside a bundle switches options off (`-l-l` extracts), an option after the
/// archive name is something else (`a.zip -x -l` extracts).
fn unzip(args: &[String]) -> Class {
    let read_bundle = |a: &String| {
        short_letters(a).is_some_and(|l| {
            !l.is_empty()
                && l.chars().all(|c| "lvtZpczq".contains(c))
                && l.contains(['l', 'v', 't', 'Z', 'p', 'c', 'z'])
        })
    };
    let reads =
        args.first().is_some_and(read_bundle) && args[1..].iter().all(|a| !a.starts_with('-'));
    if reads {
        Class::Exec
    } else {
        Class::Destructive
    }
}

/// sort: `--compress-program` runs a program; `-o`/`--output` overwrites a file.
fn sort(args: &[String]) -> Class {
    if has_long(args, &["--compress-program"]) {
        return Class::Interpreter;
    }
    let output = has_long(args, &["--output"])
        || args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| short_letters(a).is_some_and(|l| l.contains('o')));
    if output {
        Class::Destructive
    } else {
        Class::Exec
    }
}

/// uniq: a second operand is the output file it overwrites.
fn uniq(args: &[String]) -> Class {
    const VALUED: &[&str] = &["-f", "-s", "-w"];
    let mut operands = 0;
    let mut i = 0;
    let mut options = true;
    while i < args.len() {
        let a = args[i].as_str();
        if options && a == "--" {
            options = false;
        } else if options && VALUED.contains(&a) {
            i += 1;
        } else if !(options && a.starts_with('-') && a.len() > 1) {
            operands += 1;
        }
        i += 1;
    }
    if operands >= 2 {
        Class::Destructive
    } else {
        Class::Exec
    }
}

/// sed: a script from a file, or one with a command that runs a shell command (`e`, the
/// `e` flag of `s`) or writes a file (`w`, `W`, the `w` flag), is an interpreter; `-i`
/// (editing files in place) is destructive; a script of plain substitutions, deletions and
/// prints is an ordinary program.
fn sed(args: &[String]) -> Class {
    let mut scripts: Vec<&str> = Vec::new();
    let mut in_place = false;
    let mut i = 0;
    let mut positional_script = true;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-e" || (long_matches(a, "--expression") && !a.contains('=')) {
            if let Some(s) = args.get(i + 1) {
                scripts.push(s);
            }
            positional_script = false;
            i += 2;
            continue;
        }
        if long_matches(a, "--expression") {
            scripts.push(a.split_once('=').map_or("", |(_, s)| s));
            positional_script = false;
        } else if a == "-f" || long_matches(a, "--file") {
            return Class::Interpreter;
        } else if long_matches(a, "--in-place") {
            in_place = true;
        } else if let Some(l) = short_letters(a).filter(|l| !l.is_empty()) {
            // `-i`, `-i.bak`, `-ni`: in place; `-f` in a bundle: a script file; `-e` at the
            // end of a bundle takes the next argument as a script.
            let flags = l.split('i').next().unwrap_or(l);
            if l.contains('i') {
                in_place = true;
            }
            if flags.contains('f') {
                return Class::Interpreter;
            }
            if flags.ends_with('e') {
                if let Some(s) = args.get(i + 1) {
                    scripts.push(s);
                }
                positional_script = false;
                i += 2;
                continue;
            }
            if flags.contains('e') {
                return Class::Interpreter;
            }
        } else if positional_script && !a.starts_with('-') {
            scripts.push(a);
            positional_script = false;
        }
        i += 1;
    }
    if scripts.iter().any(|s| !sed_script_is_plain(s)) {
        Class::Interpreter
    } else if in_place {
        Class::Destructive
    } else {
        Class::Exec
    }
}

/// Whether a sed script is only `s` (without the `e` and `w` flags), `y`, `d`, `p` and the
/// like, each optionally after a line-number address. Anything else (a regex address, a
/// command not known here) is not plain: the parse stays on the safe side.
fn sed_script_is_plain(script: &str) -> bool {
    script
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .all(|command| {
            let body = command.trim_start_matches(|c: char| {
                c.is_ascii_digit() || c == '$' || c == ',' || c == '!' || c.is_whitespace()
            });
            let mut chars = body.chars();
            match chars.next() {
                Some('s') => substitution_is_plain(chars.as_str()),
                Some('y') => true,
                Some(
                    'd' | 'D' | 'p' | 'P' | 'n' | 'N' | 'g' | 'G' | 'h' | 'H' | 'x' | '=' | 'q',
                ) if chars.as_str().trim().chars().all(|c| c.is_ascii_digit()) => true,
                _ => false,
            }
        })
}

/// `/re/replacement/flags` (any delimiter): plain when its flags neither run (`e`) nor
/// write (`w`).
fn substitution_is_plain(rest: &str) -> bool {
    let mut chars = rest.chars();
    let Some(delim) = chars.next() else {
        return false;
    };
    if delim == '\\' || delim == '\n' {
        return false;
    }
    let mut parts = 0;
    let mut escaped = false;
    let mut flags = String::new();
    for c in chars {
        if parts == 2 {
            flags.push(c);
        } else if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            parts += 1;
        }
    }
    parts == 2 && flags.chars().all(|c| "gpiImM0123456789".contains(c))
}

/// git: whatever reads the repository's configuration or index may run a command from it
/// (`core.fsmonitor` on status, diff drivers and pagers, hooks on commit, merge, checkout,
/// rebase, am, push…, `core.sshCommand` on fetch, aliases with `!`; `core.fsmonitor` even on
/// plumbing that reads the index, such as `check-ignore`, `rev-parse --show-toplevel` or
/// `rev-list --indexed-objects`; textconv drivers on `cat-file`), so every subcommand is an
/// interpreter but `version`, and `clone` (a new repository, no configuration of the caller's
/// yet), which is network.
fn git(args: &[String]) -> Class {
    const PLAIN: &[&str] = &["version"];
    // Global options before the subcommand: those that take a value, and those that run a
    // command of the caller's choosing (configuration, an exec path, a pager).
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "--version" => return Class::Exec,
            "-C" | "--git-dir" | "--work-tree" | "--namespace" => i += 2,
            "--no-pager"
            | "--bare"
            | "--no-replace-objects"
            | "--literal-pathspecs"
            | "--no-optional-locks" => i += 1,
            a if a.starts_with("--git-dir=")
                || a.starts_with("--work-tree=")
                || a.starts_with("--namespace=") =>
            {
                i += 1;
            }
            a if a.starts_with('-') => return Class::Interpreter,
            _ => break,
        }
    }
    let Some(sub) = args.get(i) else {
        return Class::Exec; // usage only
    };
    let rest = &args[i + 1..];
    let runs_anyway = rest.iter().any(|a| {
        a == "-c"
            || a == "-u"
            || a.starts_with("--config")
            || a.starts_with("--upload-pack")
            || a.starts_with("--receive-pack")
            || a.starts_with("--exec")
            || a.starts_with("--template")
            || a.starts_with("--textconv")
            || a.starts_with("--filters")
            || a.starts_with("--ext-diff")
    });
    if runs_anyway {
        Class::Interpreter
    } else if PLAIN.contains(&sub.as_str()) {
        Class::Exec
    } else if sub == "clone" {
        Class::Network
    } else {
        Class::Interpreter
    }
}
