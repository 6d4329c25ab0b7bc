//! What a command would really do: the class and the program a shell call is decided on.
//!
//! A command is looked through its wrappers (`env`, `xargs`, `timeout`, `nice`, `busybox`,
//! `find -exec`, …) down to the program that acts; that program's class is the effect:
//! destructive, network, an interpreter running code the call does not show, or an ordinary
//! program. A wrapper whose inner command cannot be found (`xargs` reading commands from
//! nowhere, `find -exec` with nothing after it) is decided as an interpreter: the effect is
//! unknown. Wrappers whose options are not looked through here (`prlimit`, `setarch`, `sg`,
//! `sudo`, `strace`, `watch`, …), editors with command modes, build tools and version
//! control that runs hooks or commands from the repository's configuration are interpreters;
//! a program's arguments decide for tar, zip, unzip, sed, sort, uniq and git (see
//! `programs.rs`). Arguments that look like shell syntax are refused outright.

mod programs;

/// The class of a command, named as its action: `shell.<class>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An ordinary program.
    Exec,
    /// Deletes, overwrites or changes permissions of files or devices.
    Destructive,
    /// Talks to the network.
    Network,
    /// Runs code the arguments do not show (`-c`, `-e`, a script file, a REPL).
    Interpreter,
}

impl Class {
    /// The action the call is decided as.
    pub fn action(self) -> &'static str {
        match self {
            Class::Exec => "shell.exec",
            Class::Destructive => "shell.destructive",
            Class::Network => "shell.network",
            Class::Interpreter => "shell.interpreter",
        }
    }
}

/// What a command is decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// Its class.
    pub class: Class,
    /// The program that acts (its file name), e.g. `rm` for `env X=1 rm -rf x`.
    pub program: String,
    /// The wrappers looked through, outermost first.
    pub through: Vec<String>,
}

const DESTRUCTIVE: &[&str] = &[
    "rm",
    "rmdir",
    "unlink",
    "shred",
    "dd",
    "mkfs",
    "mke2fs",
    "mkswap",
    "wipefs",
    "fdisk",
    "parted",
    "sfdisk",
    "chmod",
    "chown",
    "chgrp",
    "chattr",
    "setfacl",
    "truncate",
    "mv",
    "kill",
    "killall",
    "pkill",
    "reboot",
    "shutdown",
    "halt",
    "poweroff",
    "mount",
    "umount",
    "crontab",
    "useradd",
    "userdel",
    "passwd",
    "cp",
    "tee",
    "ln",
    "install",
    "touch",
    "rename",
    "patch",
    "split",
    "csplit",
    "mkdir",
    "mktemp",
    "gzip",
    "gunzip",
    "bzip2",
    "bunzip2",
    "xz",
    "unxz",
    "lzma",
    "unlzma",
    "zstd",
    "unzstd",
    "lz4",
    "unlz4",
    "compress",
    "uncompress",
    "pigz",
    "pbzip2",
];

const NETWORK: &[&str] = &[
    "curl", "wget", "nc", "ncat", "netcat", "socat", "ssh", "scp", "sftp", "telnet", "ftp",
    "rsync", "ping", "dig", "nslookup", "host", "aria2c", "lynx", "w3m", "httpie", "http",
];

const INTERPRETERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "fish",
    "ash",
    "python",
    "python2",
    "python3",
    "node",
    "nodejs",
    "deno",
    "bun",
    "perl",
    "ruby",
    "php",
    "lua",
    "luajit",
    "tclsh",
    "wish",
    "Rscript",
    "osascript",
    "pwsh",
    "powershell",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "expect",
    "gdb",
    // Editors: command modes (`-c`, `+cmd`, `-S`), and files they read settings from.
    "vim",
    "vi",
    "nvim",
    "ex",
    "view",
    "vimdiff",
    "rvim",
    "ed",
    "red",
    "emacs",
    // Build and test tools: they run code from the working directory.
    "make",
    "cargo",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "go",
    "pip",
    "pip3",
    "pytest",
    "mvn",
    "gradle",
    "rake",
    "bundle",
    // Version control that runs hooks from the repository (git is decided on its arguments).
    "hg",
    "eval",
    "source",
    "exec",
    "sudo",
    "doas",
    "su",
    "script",
    "watch",
    "parallel",
    "flock",
    "time",
    // Wrappers that run another program with options not looked through here.
    "strace",
    "ltrace",
    "valgrind",
    "chrt",
    "taskset",
    "prlimit",
    "setarch",
    "linux32",
    "linux64",
    "i386",
    "x86_64",
    "sg",
    "newgrp",
    "runuser",
    "pkexec",
    "setpriv",
    "capsh",
    "fakeroot",
    "faketime",
    "firejail",
    "bwrap",
    "proot",
    "torsocks",
    "proxychains",
    "proxychains4",
    "xvfb-run",
    "dbus-run-session",
    "start-stop-daemon",
    "chpst",
    "builtin",
    "catchsegv",
    "nsenter",
    "unshare",
    "chroot",
    "systemd-run",
    "libos",
    "sqlite3",
    "tmux",
    "screen",
    "ssh-agent",
    "dbus-launch",
    "run-parts",
];

/// Programs known to be ordinary: they read and print, and none of their options runs a
/// command or writes a file (`sort`, `sed`, `uniq`, `tar`, `zip`, `unzip`, `git` and `find`
/// are decided by their arguments). Every program on no list is an interpreter: a program's
/// effect is known only when it is listed.
const ORDINARY: &[&str] = &[
    "echo",
    "printf",
    "cat",
    "tac",
    "nl",
    "head",
    "tail",
    "wc",
    "grep",
    "egrep",
    "fgrep",
    "ls",
    "dir",
    "vdir",
    "pwd",
    "true",
    "false",
    "yes",
    "seq",
    "sleep",
    "id",
    "whoami",
    "groups",
    "logname",
    "uname",
    "arch",
    "nproc",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "stat",
    "du",
    "df",
    "cut",
    "tr",
    "paste",
    "join",
    "comm",
    "cmp",
    "diff",
    "fold",
    "fmt",
    "column",
    "expand",
    "unexpand",
    "od",
    "hexdump",
    "base64",
    "base32",
    "basenc",
    "md5sum",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "cksum",
    "sum",
    "strings",
    "printenv",
    "test",
    "[",
    "expr",
    "factor",
    "numfmt",
    "tsort",
    "rev",
    "look",
    "jq",
    "which",
    "getconf",
    "locale",
    "tty",
    "uptime",
    "free",
    "ps",
    "pgrep",
    "pr",
    "shasum",
    "cal",
];

/// Wrappers that run the command after their own options.
const WRAPPERS: &[&str] = &[
    "env", "nice", "ionice", "nohup", "stdbuf", "setsid", "timeout", "unbuffer", "command",
    "chronic", "xargs", "busybox", "toybox",
];

/// Shell syntax: an argument that is one of these, or contains `$(` or a backquote.
const SYNTAX: &[&str] = &[
    ">", ">>", "<", "<<", "<<<", "|", "||", "&", "&&", ";", ";;", "2>", "2>>", "&>", "2>&1", ">&",
    "|&",
];

/// The file name of `program` (`/usr/bin/rm` → `rm`; `mkfs.ext4` → `mkfs`).
fn name_of(program: &str) -> String {
    let base = program.rsplit('/').next().unwrap_or(program);
    match base.split_once('.') {
        Some((stem, _)) if ["mkfs", "fsck"].contains(&stem) => stem.to_owned(),
        _ => base.to_owned(),
    }
}

/// The shell syntax found in `arg`, if any.
pub fn syntax_in(arg: &str) -> Option<&'static str> {
    if let Some(s) = SYNTAX.iter().find(|s| **s == arg) {
        return Some(s);
    }
    if arg.contains("$(") {
        return Some("$(");
    }
    if arg.contains('`') {
        return Some("`");
    }
    if (arg.starts_with('>') || arg.starts_with("1>") || arg.starts_with("2>")) && arg.len() > 1 {
        return Some(">");
    }
    if arg.starts_with('<') && arg.len() > 1 {
        return Some("<");
    }
    None
}

/// The first argument of `argv` that is shell syntax, with its position; `;` is allowed
/// where it ends a `find -exec` command (its own syntax, not a shell's).
pub fn syntax_of(argv: &[String]) -> Option<(usize, &'static str)> {
    let mut in_exec = false;
    for (i, arg) in argv.iter().enumerate() {
        if ["-exec", "-execdir", "-ok", "-okdir"].contains(&arg.as_str()) {
            in_exec = true;
            continue;
        }
        if in_exec && arg == ";" {
            in_exec = false;
            continue;
        }
        if let Some(s) = syntax_in(arg) {
            return Some((i, s));
        }
    }
    None
}

/// The options a wrapper may take before its command: those standing alone, and those whose
/// value is the next argument. Anything else (an unknown option, an option with its value
/// attached, `env -S`) makes the command's effect unknown.
fn wrapper_options(wrapper: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match wrapper {
        "env" => (
            &["-i", "--ignore-environment", "-0", "--null", "--"],
            &["-u", "--unset"],
        ),
        "nice" => (&["--"], &["-n", "--adjustment"]),
        "nohup" | "setsid" | "command" | "unbuffer" | "chronic" => (&["--"], &[]),
        "timeout" => (
            &["--preserve-status", "--foreground", "-v", "--verbose", "--"],
            &["-s", "--signal", "-k", "--kill-after"],
        ),
        "stdbuf" => (&["--"], &["-i", "-o", "-e"]),
        "ionice" => (&["-t", "--"], &["-c", "-n"]),
        "xargs" => (
            &[
                "-0",
                "--null",
                "-r",
                "--no-run-if-empty",
                "-t",
                "--verbose",
                "-x",
                "--exit",
                "--",
            ],
            &[
                "-n",
                "--max-args",
                "-L",
                "--max-lines",
                "-P",
                "--max-procs",
                "-d",
                "--delimiter",
                "-s",
                "--max-chars",
                "-I",
                "-E",
            ],
        ),
        _ => return None,
    })
}

/// How many arguments after a wrapper belong to it (options, values, and for `env` the
/// `NAME=VALUE` settings, for `timeout` the duration) before its command starts; `None` if
/// that cannot be told for sure (see [`wrapper_options`]).
fn skip_wrapper(wrapper: &str, args: &[String]) -> Option<usize> {
    let (alone, valued) = wrapper_options(wrapper)?;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return match wrapper {
                // The options end; its settings go on until the command.
                "env" => skip_settings(&args[i + 1..]).map(|n| i + 1 + n),
                // The duration still comes before the command.
                "timeout" => Some(i + 2),
                _ => Some(i + 1),
            };
        }
        if alone.contains(&a) {
            i += 1;
        } else if valued.contains(&a) {
            i += 2;
        } else if a.starts_with('-') {
            return None;
        } else if wrapper == "env" && a.contains('=') {
            // A setting can change which program runs or what it loads (`PATH=.`,
            // `LD_PRELOAD=…`, `GCONV_PATH=…`, `BASH_ENV=…`): only those known to be inert
            // are looked through; any other makes the effect unknown.
            if !inert_setting(a) {
                return None;
            }
            i += 1;
        } else if wrapper == "timeout" {
            return Some(i + 1); // the duration; the command follows
        } else {
            return Some(i);
        }
    }
    None
}

/// How many of `args` are `env` settings before its command, all inert (see
/// [`inert_setting`]); `None` if one is not.
fn skip_settings(args: &[String]) -> Option<usize> {
    let mut n = 0;
    for a in args {
        if !a.contains('=') {
            return Some(n);
        }
        if !inert_setting(a) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// Whether `NAME=VALUE` given to `env` changes only how a program presents its output (locale,
/// time zone, terminal, colour), never which program runs or what code it loads. A value
/// holding `/` is not inert: a locale or time zone named by a path reads files chosen by the
/// caller.
fn inert_setting(assignment: &str) -> bool {
    const INERT: &[&str] = &[
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "CLICOLOR",
        "POSIXLY_CORRECT",
    ];
    let Some((name, value)) = assignment.split_once('=') else {
        return false;
    };
    let named = INERT.contains(&name)
        || (name.starts_with("LC_")
            && name.len() > 3
            && name[3..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'));
    named && !value.contains('/')
}

/// The command `find` runs for each file (`-exec`, `-execdir`, `-ok`, `-okdir`), or the
/// effect of `-delete`.
fn find_action(args: &[String]) -> Option<Result<Vec<String>, Class>> {
    const RUN: &[&str] = &["-exec", "-execdir", "-ok", "-okdir"];
    const WRITE: &[&str] = &["-delete", "-fprint", "-fprint0", "-fprintf", "-fls"];
    let actions = args
        .iter()
        .filter(|a| RUN.contains(&a.as_str()) || WRITE.contains(&a.as_str()))
        .count();
    if actions > 1 {
        // Several actions: the most severe cannot be told from one of them.
        return Some(Err(Class::Interpreter));
    }
    for (i, a) in args.iter().enumerate() {
        if RUN.contains(&a.as_str()) {
            // Ended by `;`, or by `+` right after `{}` (elsewhere `+` is an argument).
            let mut inner: Vec<String> = Vec::new();
            for x in &args[i + 1..] {
                if x == ";" || (x == "+" && inner.last().is_some_and(|l| l == "{}")) {
                    break;
                }
                inner.push(x.clone());
            }
            return Some(if inner.is_empty() {
                Err(Class::Interpreter)
            } else {
                Ok(inner)
            });
        }
        if WRITE.contains(&a.as_str()) {
            return Some(Err(Class::Destructive));
        }
    }
    None
}

/// Classifies `argv` (not empty, checked for syntax by the caller).
pub fn classify(argv: &[String]) -> Decided {
    let mut through = Vec::new();
    let mut rest: Vec<String> = argv.to_vec();
    // Bounded: each step consumes at least the wrapper's name.
    for _ in 0..argv.len() {
        let Some(first) = rest.first() else { break };
        if first.contains('/') && !in_system_dirs(first) {
            // A program named by a path outside the system directories (a script in the
            // working directory, a binary anywhere): whatever it is called, its effect is
            // unknown, and it is decided on its whole path, so an allowlisted name such as
            // `ls` never covers `/tmp/x/ls`, nor a `./timeout` a wrapper's looking through.
            return Decided {
                class: Class::Interpreter,
                program: first.clone(),
                through,
            };
        }
        let name = name_of(first);
        let args = &rest[1..];
        if name == "find" {
            match find_action(args) {
                Some(Ok(inner)) => {
                    through.push(name);
                    rest = inner;
                    continue;
                }
                Some(Err(class)) => {
                    return Decided {
                        class,
                        program: name,
                        through,
                    };
                }
                None => {
                    return Decided {
                        class: Class::Exec,
                        program: name,
                        through,
                    };
                }
            }
        }
        if (name == "busybox" || name == "toybox") && !args.is_empty() {
            through.push(name);
            rest = args.to_vec();
            continue;
        }
        if WRAPPERS.contains(&name.as_str()) {
            through.push(name.clone());
            match skip_wrapper(&name, args) {
                Some(skip) if skip < args.len() => {
                    rest = args[skip..].to_vec();
                    continue;
                }
                // `xargs rm` with its commands' arguments from nowhere, `env -S "…"`: the
                // effect cannot be told from the call.
                // `env` with settings and plain options only prints its environment; any
                // other option (`-S…`, `--split-string=…`, `-C…`, a bundle) may run one.
                _ if name == "env"
                    && args.iter().all(|a| {
                        (a.contains('=') && !a.starts_with('-'))
                            || ["-i", "--ignore-environment", "-0", "--null", "--"]
                                .contains(&a.as_str())
                    }) =>
                {
                    return Decided {
                        class: Class::Exec,
                        program: name,
                        through,
                    };
                }
                _ => {
                    return Decided {
                        class: Class::Interpreter,
                        program: name,
                        through,
                    };
                }
            }
        }
        // `python3.12`, `perl5.38`, `node18`: the interpreter under a versioned name.
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        let class = if let Some(class) = programs::by_arguments(&name, args) {
            class
        } else if INTERPRETERS.contains(&name.as_str()) || INTERPRETERS.contains(&stem) {
            Class::Interpreter
        } else if NETWORK.contains(&name.as_str()) {
            Class::Network
        } else if DESTRUCTIVE.contains(&name.as_str()) || name.starts_with("mkfs") {
            Class::Destructive
        } else if ORDINARY.contains(&name.as_str()) {
            Class::Exec
        } else {
            // Not known to be ordinary: what it does cannot be told from its name (a
            // restricted shell, a test harness, an editor, a pager, a tool that writes with
            // `-o`): decided as running code the call does not show.
            Class::Interpreter
        };
        return Decided {
            class,
            program: name,
            through,
        };
    }
    Decided {
        class: Class::Interpreter,
        program: name_of(argv.first().map_or("", String::as_str)),
        through,
    }
}

/// Whether `path` (with a `/`) names a file directly in one of the directories of
/// [`super::exec::PATH`].
fn in_system_dirs(path: &str) -> bool {
    let Some((dir, file)) = path.rsplit_once('/') else {
        return false;
    };
    !file.is_empty() && super::exec::PATH.split(':').any(|d| d == dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(cmd: &str) -> (Class, String) {
        let argv: Vec<String> = cmd.split(' ').map(str::to_owned).collect();
        let d = classify(&argv);
        (d.class, d.program)
    }

    #[test]
    fn archives_that_write_or_reach_a_host_while_listing_are_not_plain() {
        assert_eq!(
            of("tar tf x.tar --volno-file=keep.txt").0,
            Class::Destructive
        );
        assert_eq!(of("tar tf host:x.tar").0, Class::Network);
        assert_eq!(of("tar tf a.tar").0, Class::Exec);
        assert_eq!(of("tar tf a:b.tar --force-local").0, Class::Exec);
        assert_eq!(of("unzip -l-l a.zip").0, Class::Destructive);
        assert_eq!(of("unzip a.zip -x -l").0, Class::Destructive);
        assert_eq!(of("unzip -l a.zip -d out").0, Class::Destructive);
        assert_eq!(of("unzip -l a.zip").0, Class::Exec);
        assert_eq!(of("unzip -tq a.zip").0, Class::Exec);
    }

    #[test]
    fn a_program_on_no_list_is_an_interpreter() {
        for cmd in [
            "rbash -c x",
            "prove t.t",
            "vim.basic -es -c !x",
            "pydoc3 mod",
            "perldoc x",
            "man -P x ls",
            "nroff -U x",
            "groff -U x",
            "gpg --decrypt x",
            "openssl enc -out x",
            "shuf -o v2.txt -e x",
            "ptx -G in out",
            "xxd -r in out",
            "link a b",
            "mkfifo f",
            "mknod f p",
            "fallocate -p -l 1 x",
            "ar x a.a",
            "iconv -o x y",
            "some-new-tool --do-things",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
    }

    #[test]
    fn ordinary_programs_are_exec() {
        for cmd in [
            "ls -la",
            "cat a.txt",
            "sort a.txt",
            "/usr/bin/grep -r x .",
            "find . -name x",
        ] {
            assert_eq!(of(cmd).0, Class::Exec, "{cmd}");
        }
    }

    #[test]
    fn nested_interpreters_are_interpreters() {
        for cmd in [
            "bash -c ls",
            "sh -c rm",
            "python -c print(1)",
            "python3 x.py",
            "node -e 1",
            "perl -e 1",
            "ruby -e 1",
            "./run.sh",
            "scripts/x",
            "awk BEGIN{system(\"rm\")}",
            "sudo ls",
            "env -S rm_x",
            "xargs",
            "find . -exec",
            "make all",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
    }

    #[test]
    fn wrapper_options_and_abbreviations_do_not_hide_the_command() {
        let argv = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (cmd, class) in [
            (
                &["timeout", "--", "5", "sh", "-c", "x"][..],
                Class::Interpreter,
            ),
            (&["timeout", "--", "5", "rm", "x"], Class::Destructive),
            (&["env", "-Ssh -c 'x'"], Class::Interpreter),
            (&["env", "--split-string=touch x"], Class::Interpreter),
            (&["env", "-iS", "sh -c x"], Class::Interpreter),
            (
                &["env", "--", "LANG=C", "sh", "-c", "x"],
                Class::Interpreter,
            ),
            (&["env", "--", "PATH=.", "cat"], Class::Interpreter),
            (
                &["env", "-i", "--", "FOO=1", "rm", "-rf", "/"],
                Class::Interpreter,
            ),
            (&["env", "--", "LANG=C", "rm", "x"], Class::Destructive),
            (&["sed", "--expr=1e touch x", "f"], Class::Interpreter),
            (&["sed", "--exp", "1e touch x", "f"], Class::Interpreter),
            (&["sed", "--in-pl", "s/x/y/", "f"], Class::Destructive),
            (&["sed", "--fi=s.sed", "f"], Class::Interpreter),
            (&["sort", "--out=o", "a"], Class::Destructive),
            (
                &["sort", "-S", "1k", "--compress-prog=sh", "s"],
                Class::Interpreter,
            ),
            (
                &[
                    "tar",
                    "-tf",
                    "a.tar",
                    "--checkpoint=1",
                    "--checkpoint-act=exec=sh",
                ],
                Class::Interpreter,
            ),
            (
                &["tar", "-tf", "a.tar", "--use-compress-prog=sh"],
                Class::Interpreter,
            ),
            (
                &[
                    "find", ".", "-exec", "sed", "-n", "p", "+", "-e", "1e x", "{}", ";",
                ],
                Class::Interpreter,
            ),
            (&["find", ".", "-exec", "rm", "{}", "+"], Class::Destructive),
        ] {
            assert_eq!(classify(&argv(cmd)).class, class, "{cmd:?}");
        }
        assert_eq!(classify(&argv(&["env", "LANG=C"])).class, Class::Exec);
        assert_eq!(classify(&argv(&["sort", "-r", "a"])).class, Class::Exec);
    }

    #[test]
    fn an_env_setting_that_can_change_what_runs_is_an_interpreter() {
        for cmd in [
            "env PATH=. cat",
            "env PATH=/tmp/x:/usr/bin cat notes",
            "env LD_PRELOAD=/tmp/x.so cat",
            "env LD_LIBRARY_PATH=. ls",
            "env GCONV_PATH=. cat",
            "env BASH_ENV=x.sh true",
            "env PYTHONPATH=. python3 -V",
            "env FOO=1 rm x",
            "env LC_ALL=/tmp/locale cat",
            "env TZ=/tmp/zone date",
            "env LANG=C PATH=. cat",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
        assert_eq!(of("env LANG=C LC_ALL=C.UTF-8 TZ=UTC cat x").0, Class::Exec);
    }

    #[test]
    fn wrappers_are_looked_through() {
        for (cmd, class, program) in [
            ("env LANG=C rm -rf x", Class::Destructive, "rm"),
            ("env -i -u HOME curl http://x", Class::Network, "curl"),
            ("timeout 5 wget x", Class::Network, "wget"),
            ("timeout -s KILL 5 rm x", Class::Destructive, "rm"),
            ("nice -n 10 dd if=/dev/zero of=x", Class::Destructive, "dd"),
            ("nohup nc -l 80", Class::Network, "nc"),
            ("xargs rm", Class::Destructive, "rm"),
            ("xargs -I {} rm {}", Class::Destructive, "rm"),
            ("timeout --preserve-status 5 curl x", Class::Network, "curl"),
            (
                "env -u HOME -i LC_ALL=C.UTF-8 cp a b",
                Class::Destructive,
                "cp",
            ),
            ("busybox rm x", Class::Destructive, "rm"),
            ("busybox wget x", Class::Network, "wget"),
            ("find . -name *.py -exec rm {} ;", Class::Destructive, "rm"),
            ("find . -execdir bash -c x ;", Class::Interpreter, "bash"),
            ("find . -delete", Class::Destructive, "find"),
            ("find . -fprint0 out", Class::Destructive, "find"),
            (
                "env nice timeout 1 busybox sh -c x",
                Class::Interpreter,
                "sh",
            ),
            ("/usr/bin/env /bin/rm x", Class::Destructive, "rm"),
            ("stdbuf -o 0 ssh host", Class::Network, "ssh"),
            ("env", Class::Exec, "env"),
        ] {
            assert_eq!(of(cmd), (class, program.to_owned()), "{cmd}");
        }
    }

    #[test]
    fn destructive_and_network_programs_are_named_so() {
        for cmd in [
            "rm x",
            "dd if=a of=b",
            "mkfs.ext4 /dev/x",
            "chmod 777 x",
            "shred x",
            "mkdir x",
        ] {
            assert_eq!(of(cmd).0, Class::Destructive, "{cmd}");
        }
        for cmd in [
            "curl x",
            "wget x",
            "nc -l 1",
            "ssh h",
            "scp a h:b",
            "git clone https://x/y",
        ] {
            assert_eq!(of(cmd).0, Class::Network, "{cmd}");
        }
    }

    #[test]
    fn find_exec_may_end_with_a_semicolon_and_nothing_else_may() {
        let argv = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(syntax_of(&argv("find . -exec rm {} ;")), None);
        assert_eq!(
            syntax_of(&argv("find . -exec rm {} ; ; ls")),
            Some((6, ";"))
        );
        assert_eq!(syntax_of(&argv("echo a ; rm x")), Some((2, ";")));
    }

    #[test]
    fn shell_syntax_is_found() {
        for arg in [
            ">", ">>", "|", ";", "&&", "||", "&", "2>&1", ">out.txt", "2>err", "<in", "$(rm x)",
            "`id`", "a$(b)",
        ] {
            assert!(syntax_in(arg).is_some(), "{arg}");
        }
        for arg in ["a>b", "x|y", "-v", "a;b", "3", "=>"] {
            assert!(syntax_in(arg).is_none(), "{arg}");
        }
    }

    #[test]
    fn wrappers_not_looked_through_are_interpreters() {
        for cmd in [
            "prlimit --nproc=1 rm x",
            "setarch x86_64 rm x",
            "linux32 rm x",
            "linux64 rm x",
            "sg wheel rm",
            "newgrp wheel",
            "setsid -f rm x",
            "stdbuf -oL -eL rm x",
            "flock /tmp/l rm x",
            "ionice -p 1",
            "taskset 1 rm x",
            "chrt 1 rm x",
            "unshare -r rm x",
            "nsenter -t 1 rm x",
            "chroot / rm x",
            "runuser -u x rm",
            "su -c rm",
            "sudo rm x",
            "doas rm x",
            "watch ls",
            "script -c rm",
            "strace rm x",
            "ltrace rm x",
            "valgrind rm x",
            "time rm x",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
        // Parsed wrappers are still looked through.
        assert_eq!(of("setsid rm x"), (Class::Destructive, "rm".into()));
        assert_eq!(of("stdbuf -o 0 rm x"), (Class::Destructive, "rm".into()));
        assert_eq!(of("ionice -c 3 rm x"), (Class::Destructive, "rm".into()));
    }

    #[test]
    fn archive_hooks_run_commands_and_extracting_writes() {
        for cmd in [
            "tar -xf a.tar --to-command=sh",
            "tar -cf a.tar --checkpoint=1 --checkpoint-action=exec=sh .",
            "tar -I sh -xf a.tar",
            "tar -xIsh -f a.tar",
            "tar --use-compress-program=sh -xf a.tar",
            "tar -F sh -xf a.tar",
            "tar --info-script=sh -xf a.tar",
            "tar --rsh-command=/bin/sh -xf h:a.tar",
            "tar xIf sh a.tar",
            "zip -TT sh a.zip b",
            "zip --unzip-command=sh a.zip b",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
        for cmd in [
            "tar -xf a.tar",
            "tar xzf a.tgz",
            "tar -czf out.tgz src",
            "tar --extract --file=a.tar",
            "zip out.zip a",
            "unzip a.zip",
        ] {
            assert_eq!(of(cmd).0, Class::Destructive, "{cmd}");
        }
        for cmd in [
            "tar -tf a.tar",
            "tar tvf a.tar",
            "tar --list -f a.tar",
            "unzip -l a.zip",
        ] {
            assert_eq!(of(cmd).0, Class::Exec, "{cmd}");
        }
    }

    #[test]
    fn editors_command_modes_and_scripts_are_interpreters() {
        for cmd in [
            "vim -c !rm",
            "vi +!rm x",
            "ex -S s.vim",
            "nvim --headless",
            "ed x",
            "awk BEGIN{system(\"rm\")}",
            "sed 1e_rm",
            "sed -e s/a/b/e x",
            "sed s/a/b/w_out x",
            "sed w_out x",
            "sed -n -e 1W_out x",
            "sed -f script.sed x",
            "sed -nf script.sed x",
            "sed /x/e x",
        ] {
            let argv: Vec<String> = cmd.split(' ').map(|a| a.replace('_', " ")).collect();
            assert_eq!(classify(&argv).class, Class::Interpreter, "{cmd}");
        }
        for cmd in [
            "sed s/a/b/g x",
            "sed -n 1,3p x",
            "sed -e s|a|b| -e 2d x",
            "sed 1d;$d x",
        ] {
            assert_eq!(of(cmd).0, Class::Exec, "{cmd}");
        }
        for cmd in [
            "sed -i s/a/b/ x",
            "sed -i.bak 1d x",
            "sed -ni 1p x",
            "sed --in-place 1d x",
        ] {
            assert_eq!(of(cmd).0, Class::Destructive, "{cmd}");
        }
        assert_eq!(of("sed -i 1e_x x").0, Class::Interpreter);
    }

    #[test]
    fn version_control_runs_what_the_repository_configures() {
        for cmd in [
            "git status",
            "git diff",
            "git log -p",
            "git commit -m x",
            "git merge x",
            "git checkout x",
            "git rebase x",
            "git am x",
            "git push",
            "git pull",
            "git fetch",
            "git clean -fdx",
            "git x",
            "git -p log",
            "git -c core.pager=sh log",
            "git --exec-path=. status",
            "git cat-file --textconv HEAD:x",
            "git clone --template=t https://x/y",
            "hg status",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
        for cmd in [
            "git rev-parse HEAD",
            "git -C sub ls-tree HEAD",
            "git check-ignore zz",
            "git rev-list --indexed-objects --all",
            "git rev-parse --show-toplevel",
        ] {
            assert_eq!(of(cmd).0, Class::Interpreter, "{cmd}");
        }
        for cmd in ["git --version", "git version", "git"] {
            assert_eq!(of(cmd).0, Class::Exec, "{cmd}");
        }
        assert_eq!(of("git clone https://x/y").0, Class::Network);
    }

    #[test]
    fn programs_that_overwrite_or_remove_files_are_destructive() {
        for cmd in [
            "sort -o out a",
            "sort -ro out a",
            "sort --output=out a",
            "gzip a",
            "gunzip a.gz",
            "bzip2 a",
            "xz a",
            "zstd a",
            "split a",
            "patch -p1",
            "truncate -s 0 a",
            "shred a",
            "mv a b",
            "uniq in out",
            "uniq -f 1 in out",
            "mkdir d",
            "rmdir d",
        ] {
            assert_eq!(of(cmd).0, Class::Destructive, "{cmd}");
        }
        for cmd in [
            "sort a",
            "sort -r -k 2 a",
            "uniq in",
            "uniq -f 1 in",
            "uniq -c",
        ] {
            assert_eq!(of(cmd).0, Class::Exec, "{cmd}");
        }
        assert_eq!(of("sort --compress-program=sh a").0, Class::Interpreter);
    }
}
