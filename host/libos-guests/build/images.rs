//! Assembles the image directories of `guest-tools/images/` into `<OUT_DIR>/images/`.
//!
//! A directory holding an `image.toml` is an image: its files are copied as they are (the
//! manifest, the policy, anything else), then every component the manifest names (`agent`
//! and each `[tools]` entry) is copied from the built components, looked up by file name and
//! written at the path the manifest gives, so the result is a directory an image store can
//! build from. A manifest naming a component that is not built, or a `policy` file that is
//! not there, fails the build. A directory without `image.toml` (the demo `workspace/`) is
//! copied as it is. Files directly in `guest-tools/images/` are ignored.

use std::fs;
use std::path::{Component, Path};

use anyhow::{Context, Result, bail};

/// The manifest's file name inside an image directory.
const MANIFEST: &str = "image.toml";

/// Rebuilds `out` from `src`, taking components from `components`.
pub fn assemble(src: &Path, components: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    fs::create_dir_all(out)?;
    if !src.is_dir() {
        return Ok(());
    }
    let mut dirs = Vec::new();
    for entry in fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().context("image directory without a name")?;
        let dest = out.join(name);
        if dir.join(MANIFEST).is_file() {
            image(&dir, components, &dest)?;
        } else {
            copy_tree(&dir, &dest)?;
        }
    }
    Ok(())
}

/// Assembles one image directory.
fn image(dir: &Path, components: &Path, dest: &Path) -> Result<()> {
    let manifest = dir.join(MANIFEST);
    let text =
        fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    copy_tree(dir, dest)?;

    let mut referenced = Vec::new();
    match table.get("agent") {
        Some(toml::Value::String(path)) => referenced.push(("agent".to_owned(), path.clone())),
        Some(_) => bail!("{}: `agent` must be a string", manifest.display()),
        None => bail!("{}: `agent` is missing", manifest.display()),
    }
    match table.get("tools") {
        Some(toml::Value::Table(tools)) => {
            for (tool, path) in tools {
                let toml::Value::String(path) = path else {
                    bail!("{}: `tools.{tool}` must be a string", manifest.display());
                };
                referenced.push((format!("tools.{tool}"), path.clone()));
            }
        }
        Some(_) => bail!("{}: `tools` must be a table", manifest.display()),
        None => {}
    }
    for (field, written) in referenced {
        component(&manifest, components, dest, &field, &written)?;
    }

    if let Some(policy) = table.get("policy") {
        let toml::Value::String(policy) = policy else {
            bail!("{}: `policy` must be a string", manifest.display());
        };
        if !relative_inside(policy) || !dest.join(policy).is_file() {
            bail!(
                "{}: `policy` names `{policy}`, which is not a file in {}",
                manifest.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Copies the built component named by `field` (`written` in the manifest) into `dest`.
fn component(
    manifest: &Path,
    components: &Path,
    dest: &Path,
    field: &str,
    written: &str,
) -> Result<()> {
    if !relative_inside(written) {
        bail!(
            "{}: `{field}` = {written:?} must be a relative path inside the image directory",
            manifest.display()
        );
    }
    let file = Path::new(written).file_name().with_context(|| {
        format!(
            "{}: `{field}` = {written:?} names no file",
            manifest.display()
        )
    })?;
    let built = components.join(file);
    if !built.is_file() {
        bail!(
            "{}: `{field}` = {written:?} names a component that is not built (built: {}); \
             add its crate to guest-tools/Cargo.toml and to NATIVE in host/libos-guests/build.rs",
            manifest.display(),
            built_names(components)
        );
    }
    let target = dest.join(written);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::copy(&built, &target)
        .with_context(|| format!("copying {} to {}", built.display(), target.display()))?;
    Ok(())
}

/// A relative path made of normal segments only (no `..`, no root).
fn relative_inside(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The file names of the built components, for error messages.
fn built_names(components: &Path) -> String {
    let mut names: Vec<String> = fs::read_dir(components)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(", ")
}

/// Copies a directory tree (directories and files; the targets of symbolic links).
fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for entry in fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        if from.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}
