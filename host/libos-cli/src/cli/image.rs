//! `libos image build | ls | inspect | commit`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use libos::state::StateDir;
use libos_image::{BuildChange, Image, ImageError, ImageStore};

use super::exit::{Code, Failure};
use super::text::clean;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Validate an image directory (or its image.toml), store its components by content
    /// hash and record the image.
    Build {
        /// The image directory, or its image.toml.
        path: PathBuf,
        /// Print the stored image as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List stored images.
    Ls {
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
    /// Make a new image from a checkpoint: the checkpoint's image (agent, tools, capabilities,
    /// policy, limits) whose processes start with the object memory its process had then.
    /// Its capabilities stay requests: a process holds only what whoever starts it grants.
    Commit {
        /// The checkpoint's id or name.
        checkpoint: String,
        /// The new image's name.
        #[arg(long)]
        name: String,
        /// Its version (default: the checkpoint's image's).
        #[arg(long)]
        version: Option<String>,
    },
    /// Show one image: NAME (newest version), NAME:VERSION or sha256:PREFIX.
    Inspect {
        /// The image reference.
        reference: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ImageCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let store = ImageStore::open(state.root()).map_err(failure)?;
    match cmd {
        ImageCommand::Build { path, json } => {
            let built = store.build(&path).map_err(failure)?;
            let image = &built.image;
            if json {
                print_json(image);
                return Ok(());
            }
            let what = match built.change {
                BuildChange::Created => "built".to_owned(),
                BuildChange::Unchanged => "unchanged".to_owned(),
                BuildChange::Replaced { previous } => {
                    format!("rebuilt (was sha256:{})", short(&previous.to_string()))
                }
            };
            println!(
                "{what} {} sha256:{}",
                clean(&image.reference()),
                short(&image.digest.to_string())
            );
            Ok(())
        }
        ImageCommand::Ls { json } => {
            let images = store.list().map_err(failure)?;
            if json {
                print_json(&images);
                return Ok(());
            }
            println!(
                "{:<24} {:<12} {:<20} {:>5}  CREATED",
                "NAME", "VERSION", "DIGEST", "TOOLS"
            );
            for i in &images {
                println!(
                    "{:<24} {:<12} sha256:{:<13} {:>5}  {}",
                    clean(&i.name),
                    clean(&i.version),
                    short(&i.digest.to_string()),
                    i.tools,
                    created(i.created_ns)
                );
            }
            Ok(())
        }
        ImageCommand::Commit {
            checkpoint,
            name,
            version,
        } => commit(
            &state,
            &store,
            (&checkpoint, &name, version.as_deref()),
            state_dir,
        ),
        ImageCommand::Inspect { reference, json } => {
            let image = store.get(&reference).map_err(failure)?;
            if json {
                print_json(&image);
            } else {
                print_image(&image);
            }
            Ok(())
        }
    }
}

/// `libos image commit`, audited as `image.commit` on `checkpoint/ID` before it is made.
fn commit(
    state: &StateDir,
    store: &ImageStore,
    (which, name, version): (&str, &str, Option<&str>),
    state_dir: Option<&Path>,
) -> Result<(), Failure> {
    let journal = libos_journal::Journal::open(&state.db_path()).map_err(other)?;
    let checkpoint = super::checkpoint::named(&journal, which)?;
    let meta: libos_process::CheckpointMeta = serde_json::from_str(&checkpoint.meta)
        .map_err(|e| Failure::new(Code::Error, format!("checkpoint {}: {e}", checkpoint.id)))?;
    let base = store
        .get(&format!("sha256:{}", meta.image_digest))
        .map_err(failure)?;
    let memory = journal
        .checkpoint_memory(checkpoint.id)
        .map_err(other)?
        .unwrap_or_default();
    // What it holds is read back before it is stored, as a process's start will read it.
    let objects = libos_process::decode_memory(&memory).map_err(other)?;
    let memory = libos_process::encode_memory(&objects).map_err(other)?;
    super::operator::record(
        state_dir,
        "image.commit",
        &format!("checkpoint/{}", checkpoint.id),
        &format!(
            "operator: libos image commit {} --name {name}",
            checkpoint.id
        ),
    )?;
    let built = store
        .commit(&base, (name, version.unwrap_or(&base.version)), &memory)
        .map_err(failure)?;
    println!(
        "committed {} sha256:{} ({} objects, from checkpoint {} of process {})",
        clean(&built.image.reference()),
        short(&built.image.digest.to_string()),
        objects.len(),
        checkpoint.id,
        checkpoint.pid
    );
    Ok(())
}

fn print_image(image: &Image) {
    println!("image       {}", clean(&image.reference()));
    println!("digest      sha256:{}", image.digest);
    if let Some(d) = &image.description {
        println!("description {}", clean(d));
    }
    println!("created     {}", created(image.created_ns));
    println!(
        "agent       sha256:{} ({} bytes)",
        short(&image.agent.digest.to_string()),
        image.agent.size
    );
    for (name, c) in &image.tools {
        println!(
            "tool        {}: sha256:{} ({} bytes)",
            clean(name),
            short(&c.digest.to_string()),
            c.size
        );
    }
    for cap in &image.capabilities {
        println!("capability  {}", clean(cap));
    }
    match &image.policy {
        Some(p) => println!("policy      {} line(s)", p.lines().count()),
        None => println!("policy      none (capabilities alone decide)"),
    }
    let l = &image.limits;
    println!(
        "limits      fuel/slice {}, memory {} B, wall clock {}, children {}, objects {}, \
         object {} B, namespace {} B",
        l.fuel_per_slice,
        l.memory,
        humantime::format_duration(l.wall_clock),
        l.max_children,
        l.max_objects,
        l.max_object_bytes,
        l.max_namespace_bytes,
    );
    let b = &image.budget;
    let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
    println!(
        "budget      tool calls {}, fuel {}, bytes written {}, objects {}, children {} \
         (- : none of its own)",
        show(b.tool_calls),
        show(b.fuel),
        show(b.bytes_written),
        show(b.objects),
        show(b.children)
    );
}

fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot encode JSON: {e}"),
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

fn created(ns: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns))
        .to_string()
}

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Error, e.to_string())
}

fn failure(e: ImageError) -> Failure {
    let code = match &e {
        ImageError::NotFound { .. } => Code::NotFound,
        _ => Code::Error,
    };
    Failure::new(code, e.to_string())
}
