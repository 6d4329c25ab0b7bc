//! The fs primitive acts on exactly what it decided: while another thread swaps links in and
//! out of the paths being read and written (a file for a link to a forbidden file, a directory
//! for a link to a forbidden directory or to `..`), no forbidden byte is ever read and no
//! forbidden file is ever changed, and granted reads and writes still get through.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Env;
use libos::bindings::libos::runtime::fs::Host as _;

const FORBID: &str = r#"permit(principal, action, resource);
    @id("no-secret") forbid(principal, action in Action::"fs", resource)
        when { resource.path like "secret/*" || resource.path == "x" };"#;

/// Swaps `path` between what it is now and a symbolic link to `target` until `stop`.
fn swap_loop(root: &Path, path: &str, target: &str, stop: &AtomicBool) {
    let real = root.join(path);
    let stash = root.join(format!("{path}.stash"));
    let link_tmp = root.join(format!("{path}.link"));
    while !stop.load(Ordering::Relaxed) {
        // Real -> link: move the real entry aside, put a link in its place.
        if std::fs::rename(&real, &stash).is_err() {
            continue;
        }
        let _ = std::fs::remove_file(&link_tmp);
        let _ = std::os::unix::fs::symlink(target, &link_tmp);
        let _ = std::fs::rename(&link_tmp, &real);
        std::thread::yield_now();
        // Link -> real.
        let _ = std::fs::remove_file(&real);
        let _ = std::fs::rename(&stash, &real);
        std::thread::yield_now();
    }
    if !real.exists() || real.is_symlink() {
        let _ = std::fs::remove_file(&real);
        let _ = std::fs::rename(&stash, &real);
    }
}

#[test]
fn swapped_links_never_leak_a_forbidden_file() {
    let env = Env::new();
    env.write("secret/key", "SECRET-KEY");
    env.write("secret/x", "SECRET-DIR");
    env.write("x", "SECRET-TOP");
    env.write("pub/f", "PUBLIC-F");
    env.write("pub/d/x", "PUBLIC-D");
    env.write("pub/e/x", "PUBLIC-E");
    let forbidden = ["secret/key", "secret/x", "x"];
    let before: Vec<Vec<u8>> = forbidden
        .iter()
        .map(|p| std::fs::read(env.work_path(p)).unwrap())
        .collect();

    let host = env.host();
    let opts = env.options(&["fs.read:**", "fs.write:**"], Some(FORBID));
    let (mut ctx, _, _) = host
        .process_context(Arc::from("agent:race"), &opts)
        .expect("context");

    let stop = Arc::new(AtomicBool::new(false));
    let root = env.work.path().to_path_buf();
    let swappers: Vec<_> = [
        ("pub/f", "../secret/key"),
        ("pub/d", "../secret"),
        ("pub/e", ".."),
    ]
    .into_iter()
    .map(|(path, target)| {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        std::thread::spawn(move || swap_loop(&root, path, target, &stop))
    })
    .collect();

    // Imports are async (a write waits for its audit record).
    let rt = common::rt();
    let (mut reads_ok, mut writes_ok) = (0, 0);
    let deadline = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < deadline {
        for path in ["pub/f", "pub/d/x", "pub/e/x"] {
            if let Ok(Ok(bytes)) = rt.block_on(ctx.read(path.into())) {
                let text = String::from_utf8_lossy(&bytes);
                assert!(text.starts_with("PUBLIC"), "{path} read {text:?}");
                reads_ok += 1;
            }
            if let Ok(Ok(())) = rt.block_on(ctx.write(path.into(), b"PUBLIC-W".to_vec())) {
                writes_ok += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in swappers {
        s.join().expect("swapper");
    }

    for (path, bytes) in forbidden.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(env.work_path(path)).unwrap(),
            bytes,
            "{path} changed"
        );
    }
    assert!(reads_ok > 0, "no granted read got through");
    assert!(writes_ok > 0, "no granted write got through");
}
