//! A permitted shell command is confined by the kernel to what its process's capabilities
//! grant: it reads only where the process holds `fs.read`, writes only where it holds
//! `fs.write`, never touches the state directory, and reaches no TCP port without
//! `shell.network` on the acting program. Each refusal leaves no effect; each allowed twin
//! works.

use crate::common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// A working directory with the state directory inside it, next to a file outside it.
struct Layout {
    _root: tempfile::TempDir,
    outside: PathBuf,
    work: PathBuf,
    state: PathBuf,
    images: tempfile::TempDir,
}

impl Layout {
    fn new() -> anyhow::Result<Layout> {
        let root = tempfile::tempdir()?;
        let outside = root.path().join("outside.txt");
        std::fs::write(&outside, "SECRET-OUTSIDE")?;
        let work = root.path().join("work");
        let state = work.join(".libos-state");
        std::fs::create_dir_all(&state)?;
        std::fs::create_dir_all(work.join("granted"))?;
        std::fs::create_dir_all(work.join("notgranted"))?;
        std::fs::write(work.join("a.txt"), "alpha\n")?;
        Ok(Layout {
            outside,
            work,
            state,
            images: tempfile::tempdir()?,
            _root: root,
        })
    }

    /// Builds image `name` (the script agent, no policy: capabilities decide) with `caps`.
    fn image(&self, name: &str, caps: &[&str]) -> anyhow::Result<()> {
        common::fixture_image(
            &self.state,
            self.images.path(),
            name,
            libos_guests::AGENT_SCRIPT,
            caps,
            "wall_clock = \"60s\"",
        )
    }

    /// Builds `offline` (commands and interpreters, no network) and `online` (the same, and
    /// `shell.network:python3`).
    fn network_images(&self) -> anyhow::Result<()> {
        self.image("offline", &["shell.exec:**", "shell.interpreter:**"])?;
        self.image(
            "online",
            &[
                "shell.exec:**",
                "shell.interpreter:**",
                "shell.network:python3",
            ],
        )
    }

    /// Runs `argvs` in a process of `image`; returns each step's result.
    async fn run(&self, image: &str, argvs: &[&[&str]]) -> anyhow::Result<Vec<Value>> {
        let kernel = common::kernel(&self.state)?;
        let steps: Vec<Value> = argvs
            .iter()
            .map(|a| json!({"op": "shell", "argv": a}))
            .collect();
        let out = common::run_to_exit(
            &kernel,
            image,
            &json!({ "steps": steps }).to_string(),
            &self.work,
        )
        .await?;
        Ok(out["results"].as_array().cloned().unwrap_or_default())
    }
}

/// The command ran and exited with 0.
fn succeeded(r: &Value) -> bool {
    r["ok"]["exit_code"] == 0
}

/// The command ran and failed (the kernel refused what it tried), printing nothing.
fn refused_silently(r: &Value) -> bool {
    r["ok"]["exit_code"] != 0 && r["ok"]["exit_code"] != Value::Null && r["ok"]["stdout"] == ""
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_reads_only_what_fs_read_grants() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image("reader", &["shell.*:**", "fs.read:**"])?;
    let db = world.state.join("libos.db");
    let db = db.to_string_lossy();
    let results = world
        .run(
            "reader",
            &[
                &["cat", "a.txt"],
                &["cat", "../outside.txt"],
                &["cat", ".libos-state/libos.db"],
                &["cat", &db],
                &["cat", "/etc/shadow"],
                &["ls", "/"],
                &["head", "-c", "4", "/dev/zero"],
            ],
        )
        .await?;
    assert_eq!(results[0]["ok"]["stdout"], "alpha\n", "{results:?}");
    assert!(refused_silently(&results[1]), "outside: {}", results[1]);
    assert!(refused_silently(&results[2]), "state db: {}", results[2]);
    assert!(
        refused_silently(&results[3]),
        "state db by path: {}",
        results[3]
    );
    assert!(refused_silently(&results[4]), "/etc/shadow: {}", results[4]);
    assert!(refused_silently(&results[5]), "listing /: {}", results[5]);
    assert!(succeeded(&results[6]), "system devices stay usable");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_writes_only_where_fs_write_grants() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image(
        "writer",
        &["shell.*:**", "fs.read:**", "fs.write:granted/**"],
    )?;
    let results = world
        .run(
            "writer",
            &[
                &["cp", "a.txt", "granted/x"],
                &["cp", "a.txt", "../out.txt"],
                &["cp", "a.txt", "notgranted/x"],
                &["cp", "a.txt", "b.txt"],
                &["sort", "-o", "granted/sorted", "a.txt"],
                &["sort", "-o", "a.txt", "granted/x"],
            ],
        )
        .await?;
    assert!(succeeded(&results[0]), "{results:?}");
    assert_eq!(
        read(&world.work.join("granted/x")).as_deref(),
        Some("alpha\n")
    );
    for (i, r) in results.iter().enumerate().take(4).skip(1) {
        assert_ne!(r["ok"]["exit_code"], 0, "step {i}: {r}");
    }
    assert!(!world.outside.with_file_name("out.txt").exists());
    assert!(!world.work.join("notgranted/x").exists());
    assert!(!world.work.join("b.txt").exists());
    assert!(succeeded(&results[4]), "{}", results[4]);
    assert_eq!(
        read(&world.work.join("granted/sorted")).as_deref(),
        Some("alpha\n")
    );
    assert_ne!(results[5]["ok"]["exit_code"], 0, "{}", results[5]);
    assert_eq!(read(&world.work.join("a.txt")).as_deref(), Some("alpha\n"));
    assert_eq!(read(&world.outside).as_deref(), Some("SECRET-OUTSIDE"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_directory_is_out_of_reach_even_under_fs_write_everywhere() -> anyhow::Result<()>
{
    let world = Layout::new()?;
    std::fs::create_dir(world.work.join("sub"))?;
    std::fs::write(world.work.join("sub/b.txt"), "beta\n")?;
    world.image("all", &["shell.*:**", "fs.*:**"])?;
    let results = world
        .run(
            "all",
            &[
                &["cp", "a.txt", ".libos-state/x"],
                &["truncate", "-s", "0", ".libos-state/libos.db"],
                &["rm", "-rf", ".libos-state"],
                // The working directory holds the state directory: it gets no rule of its
                // own, so no entry can be made or removed in it (its files stay writable).
                &["cp", "a.txt", "copy.txt"],
                &["cp", "a.txt", "sub/copy.txt"],
                &["mkdir", "sub/made"],
                &["cp", "sub/b.txt", "a.txt"],
            ],
        )
        .await?;
    for (i, r) in results.iter().enumerate().take(4) {
        assert_ne!(r["ok"]["exit_code"], 0, "step {i}: {r}");
    }
    assert!(!world.state.join("x").exists());
    assert!(!world.work.join("copy.txt").exists());
    assert!(world.state.join("libos.db").metadata()?.len() > 0);
    for (i, r) in results.iter().enumerate().skip(4) {
        assert!(succeeded(r), "step {i}: {r}");
    }
    assert_eq!(
        read(&world.work.join("sub/copy.txt")).as_deref(),
        Some("alpha\n")
    );
    assert!(world.work.join("sub/made").is_dir());
    assert_eq!(read(&world.work.join("a.txt")).as_deref(), Some("beta\n"));
    // The database still opens and holds the run.
    let queue = libos_human::HumanQueue::open(world.state.join("libos.db"))?;
    assert!(queue.pending()?.is_empty());
    Ok(())
}

/// `python3` connecting to `port` prints `connected` when it can.
fn connect(port: u16) -> Vec<String> {
    vec![
        "python3".into(),
        "-c".into(),
        format!(
            "import socket\nsocket.create_connection(('127.0.0.1', {port}), 5)\nprint('connected')"
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_needs_shell_network_on_the_acting_program() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.network_images()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let argv = connect(port);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();

    let offline = world.run("offline", &[&argv]).await?;
    assert_ne!(offline[0]["ok"]["exit_code"], 0, "{offline:?}");
    assert!(
        !offline[0]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("connected")
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "nothing reached the listener"
    );

    // The network is TCP and UDP over IP: a Unix socket named in the filesystem (a local
    // daemon's) stays out of reach even so.
    let socket_path = world.outside.with_file_name("daemon.sock");
    let daemon = std::os::unix::net::UnixListener::bind(&socket_path)?;
    daemon.set_nonblocking(true)?;
    let unix = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\nprint('connected')",
        socket_path.to_string_lossy()
    );
    let online = world
        .run("online", &[&argv, &["python3", "-c", unix.as_str()]])
        .await?;
    assert_eq!(online[0]["ok"]["stdout"], "connected\n", "{online:?}");
    assert!(listener.accept().is_ok(), "the connection arrived");
    assert!(refused_silently(&online[1]), "{online:?}");
    assert!(daemon.accept().is_err(), "nothing reached the local daemon");
    Ok(())
}

/// `python3` sending one UDP datagram to `port` prints `sent` when it can.
fn datagram(port: u16) -> Vec<String> {
    vec![
        "python3".into(),
        "-c".into(),
        format!(
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.sendto(b'out', ('127.0.0.1', {port}))\nprint('sent')"
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_raw_sockets_need_shell_network_too() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.network_images()?;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    let port = socket.local_addr()?.port();
    let argv = datagram(port);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let packet = [
        "python3",
        "-c",
        "import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW)\nprint('opened')",
    ];
    let unix = [
        "python3",
        "-c",
        "import socket\nsocket.socketpair()\nprint('paired')",
    ];

    let offline = world.run("offline", &[&argv, &packet, &unix]).await?;
    assert!(refused_silently(&offline[0]), "{offline:?}");
    let mut buf = [0u8; 8];
    assert!(
        matches!(socket.recv_from(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "no datagram arrived"
    );
    assert!(refused_silently(&offline[1]), "{offline:?}");
    // Unix sockets stay usable.
    assert_eq!(offline[2]["ok"]["stdout"], "paired\n", "{offline:?}");

    let online = world.run("online", &[&argv]).await?;
    assert_eq!(online[0]["ok"]["stdout"], "sent\n", "{online:?}");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(socket.recv_from(&mut buf).is_ok(), "the datagram arrived");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_keeps_no_capability_of_the_host_user() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image("sh", &["shell.exec:**", "shell.interpreter:**"])?;
    // Setting the hostname to itself changes nothing, but needs CAP_SYS_ADMIN.
    let hostname = [
        "python3",
        "-c",
        "import socket\nsocket.sethostname(socket.gethostname())\nprint('set')",
    ];
    // The capability sets the command holds, as the kernel reports them.
    let caps = [
        "python3",
        "-c",
        "import ctypes\nlibc = ctypes.CDLL(None)\n\
         hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)\ndata = (ctypes.c_uint32 * 6)()\n\
         assert libc.capget(hdr, data) == 0\nprint(sum(data[i] for i in range(6)))",
    ];
    let out = world.run("sh", &[&hostname, &caps]).await?;
    assert!(refused_silently(&out[0]), "{out:?}");
    assert_eq!(out[1]["ok"]["stdout"], "0\n", "{out:?}");
    Ok(())
}

/// Whether no live process's command line holds `marker`, within 5 s (a command's pids are
/// those of its own pid namespace, when it has one, so processes are found by what they run).
fn none_running(marker: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let running = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
            });
        if !running {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A command forks a child that tries to leave the command's process group and keeps
/// running; it prints the child's pid and what the attempt gave.
const DAEMON: &str = r#"
import os, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    said = []
    for leave in (os.setsid, lambda: os.setpgid(0, 0)):
        try:
            leave()
            said.append('left')
        except OSError:
            said.append('stayed')
    os.write(w, ' '.join(said).encode())
    time.sleep(120)
    os._exit(0)
print(pid, os.read(r, 64).decode(), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_command_starts_ends_with_it() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image("sh", &["shell.exec:**", "shell.interpreter:**"])?;
    let kernel = common::kernel(&world.state)?;
    let marker = format!("daemon-marker-{}", std::process::id());
    let script = json!({ "steps": [
        { "op": "shell", "argv": ["python3", "-c", DAEMON, marker] },
        { "op": "shell", "argv": ["sh", "-c", "sleep 31.4159 & echo $!; wait"], "timeout_ms": 300 },
    ]});
    let out = common::run_to_exit(&kernel, "sh", &script.to_string(), &world.work).await?;
    let results = out["results"].as_array().cloned().unwrap_or_default();
    let said = results[0]["ok"]["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut words = said.split_whitespace();
    let _pid = words.next();
    assert_eq!(words.collect::<Vec<_>>(), ["stayed", "stayed"], "{said:?}");
    assert!(
        none_running(&marker),
        "the forked child outlived its command"
    );
    // A command that outlives its timeout ends with what it started.
    let slept = &results[1]["ok"];
    assert_eq!(slept["timed_out"], true, "{results:?}");
    assert_eq!(slept["exit_code"], Value::Null);
    assert!(
        none_running("31.4159"),
        "the background sleep outlived its command's timeout"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_inherits_no_descriptor_of_the_host() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image("sh", &["shell.exec:**", "shell.interpreter:**"])?;
    // Every descriptor above stderr the command holds (the host holds the database, the
    // pipes of other commands, the ruleset, pidfds…, and whatever it inherited without
    // close-on-exec from whoever started it: a test inherits some from its harness).
    let open = [
        "python3",
        "-c",
        "import os\nheld = []\nfor fd in range(3, 65536):\n    try:\n        os.fstat(fd)\n        held.append(fd)\n    except OSError:\n        pass\nprint(held)",
    ];
    // A descriptor of a file outside the working directory, open in the host without
    // close-on-exec (as one inherited from a parent shell would be).
    let outside = std::fs::File::open(&world.outside)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&outside);
    // SAFETY: clears the flags of a descriptor this test holds open.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
    let read_it = format!("import os\nprint(os.read({fd}, 100))");
    let out = world
        .run("sh", &[&open, &["python3", "-c", read_it.as_str()]])
        .await?;
    assert_eq!(out[0]["ok"]["stdout"], "[]\n", "{out:?}");
    assert!(refused_silently(&out[1]), "{out:?}");
    drop(outside);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_changes_no_metadata_and_reaches_no_other_process_or_socket() -> anyhow::Result<()>
{
    use std::os::unix::fs::PermissionsExt as _;
    let world = Layout::new()?;
    world.image(
        "meta",
        &[
            "shell.exec:**",
            "shell.interpreter:**",
            "shell.destructive:**",
            "fs.read:**",
            "fs.write:granted/**",
        ],
    )?;
    std::fs::write(world.work.join("granted/mine.txt"), "mine")?;
    std::fs::set_permissions(&world.outside, std::fs::Permissions::from_mode(0o600))?;
    let outside = world.outside.to_string_lossy().into_owned();
    let before = std::fs::metadata(&world.outside)?;
    // A Unix socket named in the filesystem, outside the working directory.
    let socket_path = world.outside.with_file_name("daemon.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket_path)?;
    listener.set_nonblocking(true)?;
    let connect = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({:?})\nprint('connected')",
        socket_path.to_string_lossy()
    );
    let python = |code: &str| vec!["python3".to_owned(), "-c".to_owned(), code.to_owned()];
    let steps: Vec<Vec<String>> = vec![
        vec!["chmod".into(), "4755".into(), outside.clone()],
        vec!["chmod".into(), "+x".into(), "granted/mine.txt".into()],
        vec![
            "touch".into(),
            "-d".into(),
            "1999-12-31".into(),
            outside.clone(),
        ],
        vec!["touch".into(), "granted/mine.txt".into()],
        python(&format!(
            "import os\nos.setxattr({outside:?}, 'user.x', b'1')\nprint('set')"
        )),
        python(
            "import resource, os\npid = os.fork()\nif pid == 0:\n    resource.prlimit(1, resource.RLIMIT_NOFILE, (4, 4))\n    print('limited')\nos.waitpid(pid, 0) if pid else None",
        ),
        python(
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.shmget(0, 4096, 0o1600))",
        ),
        python(&connect),
        python(
            "import os\nos.open('granted/suid', os.O_CREAT | os.O_WRONLY, 0o4755)\nprint('created')",
        ),
        python(&format!(
            "import socket\na, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\na.sendto(b'x', {:?})\nprint('sent')",
            socket_path.to_string_lossy()
        )),
        python(
            "import fcntl, os\nfd = os.open('a.txt', os.O_RDONLY)\nfcntl.fcntl(fd, 1024, 0)\nprint('leased')",
        ),
    ];
    let argvs: Vec<Vec<&str>> = steps
        .iter()
        .map(|a| a.iter().map(String::as_str).collect())
        .collect();
    let argvs: Vec<&[&str]> = argvs.iter().map(Vec::as_slice).collect();
    let out = world.run("meta", &argvs).await?;
    let after = std::fs::metadata(&world.outside)?;
    assert_ne!(out[0]["ok"]["exit_code"], 0, "{out:?}");
    assert_eq!(after.permissions().mode() & 0o7777, 0o600, "mode unchanged");
    assert_ne!(
        out[1]["ok"]["exit_code"], 0,
        "modes are not changed even inside the grants: {out:?}"
    );
    assert_eq!(
        std::fs::metadata(world.work.join("granted/mine.txt"))?
            .permissions()
            .mode()
            & 0o111,
        0
    );
    assert_ne!(out[2]["ok"]["exit_code"], 0, "{out:?}");
    assert_eq!(after.modified()?, before.modified()?, "times unchanged");
    assert_eq!(
        out[3]["ok"]["exit_code"], 0,
        "touching a granted file works: {out:?}"
    );
    assert!(
        !out[4]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("set"),
        "{out:?}"
    );
    assert!(
        !out[5]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("limited"),
        "{out:?}"
    );
    assert_eq!(out[6]["ok"]["stdout"], "-1\n", "{out:?}");
    assert!(
        !out[7]["ok"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("connected"),
        "{out:?}"
    );
    assert!(
        listener.accept().is_err(),
        "nothing connected to the socket"
    );
    for (i, said) in [(8, "created"), (9, "sent"), (10, "leased")] {
        let out_i = &out[i]["ok"];
        assert!(
            !out_i["stdout"].as_str().unwrap_or_default().contains(said),
            "{i}: {out_i}"
        );
    }
    assert!(
        !world.work.join("granted/suid").exists(),
        "no set-uid file was made"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commands_record_is_stored_before_it_runs() -> anyhow::Result<()> {
    let world = Layout::new()?;
    world.image("sleepy", &["shell.exec:**"])?;
    let marker = format!("1.{}", std::process::id());
    let run = {
        let kernel = common::kernel(&world.state)?;
        let work = world.work.clone();
        let script = json!({ "steps": [{ "op": "shell", "argv": ["sleep", marker] }] });
        tokio::spawn(async move {
            common::run_to_exit(&kernel, "sleepy", &script.to_string(), &work).await
        })
    };
    // While the command runs, another reader of the state directory finds its record.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut found = false;
    while std::time::Instant::now() < deadline && !found {
        let running = std::fs::read_dir("/proc")?.flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        });
        if running {
            let records = libos_audit::read_records(&world.state.join("libos.db"), None)?;
            found = records.iter().any(|r| {
                &*r.record.decided.action == "shell.exec" && &*r.record.decided.resource == "sleep"
            });
            assert!(found, "the command runs and its record is not stored");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(found, "the command was never seen running");
    run.await??;
    Ok(())
}
