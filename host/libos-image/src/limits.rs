//! Resource limits an image asks to run under: the `[limits]` table of `image.toml`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::duration;
use crate::error::{FieldError, ManifestError};
use crate::fields::Section;
use crate::size::{self, SizeError};

/// The keys of the `[limits]` table.
pub(crate) const LIMIT_KEYS: &[&str] = &[
    "fuel_per_slice",
    "memory",
    "wall_clock",
    "max_children",
    "max_descendants",
    "max_objects",
    "max_object_bytes",
    "max_namespace_bytes",
    "events_per_second",
    "max_log_bytes",
    "max_journal_bytes",
];

/// Resource limits of an agent built from an image. Every field is optional in the manifest;
/// an omitted field takes the default documented on it ([`ImageLimits::default`]).
///
/// Sizes are bytes, at most [`crate::MAX_SIZE`] (1 GiB); they serialise as integers and
/// deserialise from integers or size strings (`"64MiB"`). `wall_clock` serialises as a
/// humantime string (`"10m"`). Deserialising rejects unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageLimits {
    /// Fuel (roughly, WebAssembly instructions) the agent may burn per scheduling slice before
    /// it yields. Greater than zero. Default 10,000,000.
    pub fuel_per_slice: u64,
    /// Maximum linear memory of the agent, in bytes. Greater than zero. Default 64 MiB.
    #[serde(with = "size")]
    pub memory: u64,
    /// Maximum wall-clock running time of the agent. Greater than zero. Default 10 minutes.
    #[serde(with = "duration")]
    pub wall_clock: Duration,
    /// Maximum number of children the agent may start over its life (ended ones count too);
    /// `[budget] children` bounds its whole subtree instead. Default 16.
    pub max_children: u32,
    /// Maximum number of the agent's descendants (children, their children, ...) alive at
    /// once; every ancestor's bound applies too, so a spawn loop anywhere in a tree stops at
    /// its root's. Starting one more is `limit-exceeded(children)`. Default 1,000.
    pub max_descendants: u32,
    /// Maximum number of objects the agent may hold in its memory namespace. Default 10,000.
    pub max_objects: u64,
    /// Maximum size of one stored object, in bytes. Default 64 KiB.
    #[serde(with = "size")]
    pub max_object_bytes: u64,
    /// Maximum total size of the agent's memory namespace, in bytes. Default 16 MiB.
    #[serde(with = "size")]
    pub max_namespace_bytes: u64,
    /// Events the agent may emit per second, on average; it may emit up to this many at once
    /// after a pause. Emitting faster is `limit-exceeded(output)`. 0 forbids emitting.
    /// Default 1,000.
    pub events_per_second: u32,
    /// Bytes of `log` primitive lines the agent may store over its life, across `exec`;
    /// later lines are dropped with one note saying so (captured stdout and stderr are
    /// capped per instance instead). Default 16 MiB.
    #[serde(with = "size")]
    pub max_log_bytes: u64,
    /// Bytes the agent's journal may hold while it lives (each call's intent and result: a
    /// file read keeps what it read, a shell command its output). A call that starts once the
    /// journal holds this much fails with `limit-exceeded(storage)` without running (the few
    /// calls that cannot fail still run); the last call before may pass it by its own result.
    /// Default 256 MiB; left out of the image digest when default.
    #[serde(with = "size", skip_serializing_if = "is_default_journal")]
    pub max_journal_bytes: u64,
}

/// The default [`ImageLimits::max_journal_bytes`].
pub const DEFAULT_MAX_JOURNAL_BYTES: u64 = 256 << 20;

fn is_default_journal(bytes: &u64) -> bool {
    *bytes == DEFAULT_MAX_JOURNAL_BYTES
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            fuel_per_slice: 10_000_000,
            memory: 64 << 20,
            wall_clock: Duration::from_secs(10 * 60),
            max_children: 16,
            max_descendants: 1_000,
            max_objects: 10_000,
            max_object_bytes: 64 << 10,
            max_namespace_bytes: 16 << 20,
            events_per_second: 1_000,
            max_log_bytes: 16 << 20,
            max_journal_bytes: DEFAULT_MAX_JOURNAL_BYTES,
        }
    }
}

impl ImageLimits {
    /// Reads the `[limits]` section; absent keys keep their defaults.
    pub(crate) fn from_section(section: &mut Section) -> Result<ImageLimits, ManifestError> {
        let mut limits = ImageLimits::default();
        for (key, value) in section.drain() {
            let field = |problem| section.error(&key, problem);
            match key.as_str() {
                "fuel_per_slice" => limits.fuel_per_slice = count(&value, 1).map_err(field)?,
                "memory" => limits.memory = positive_size(&value).map_err(field)?,
                "wall_clock" => limits.wall_clock = wall_clock(&value).map_err(field)?,
                "max_children" => limits.max_children = small_count(&value).map_err(field)?,
                "max_descendants" => {
                    limits.max_descendants = small_count(&value).map_err(field)?;
                }
                "max_objects" => limits.max_objects = count(&value, 0).map_err(field)?,
                "max_object_bytes" => limits.max_object_bytes = size(&value).map_err(field)?,
                "max_namespace_bytes" => {
                    limits.max_namespace_bytes = size(&value).map_err(field)?;
                }
                "events_per_second" => {
                    limits.events_per_second = small_count(&value).map_err(field)?;
                }
                "max_log_bytes" => limits.max_log_bytes = size(&value).map_err(field)?,
                "max_journal_bytes" => {
                    limits.max_journal_bytes = positive_size(&value).map_err(field)?;
                }
                // Unknown keys were rejected when the section was opened.
                _ => {
                    return Err(field(FieldError::Unknown {
                        expected: LIMIT_KEYS.join(", "),
                    }));
                }
            }
        }
        Ok(limits)
    }
}

/// An integer of at least `min`.
pub(crate) fn count(value: &Value, min: u64) -> Result<u64, FieldError> {
    let Value::Integer(n) = value else {
        return Err(FieldError::WrongType {
            expected: "an integer",
            got: value.type_str(),
        });
    };
    match u64::try_from(*n) {
        Ok(n) if n >= min => Ok(n),
        _ if min == 0 => Err(FieldError::Invalid(format!("{n} is negative"))),
        _ => Err(FieldError::Invalid(format!(
            "{n} is out of range; it must be at least {min}"
        ))),
    }
}

/// An integer from 0 to `u32::MAX`.
fn small_count(value: &Value) -> Result<u32, FieldError> {
    let n = count(value, 0)?;
    u32::try_from(n)
        .map_err(|_| FieldError::Invalid(format!("{n} is more than the maximum of {}", u32::MAX)))
}

/// A size: an integer number of bytes or a size string.
pub(crate) fn size(value: &Value) -> Result<u64, FieldError> {
    let (result, got) = match value {
        Value::Integer(n) => {
            let checked = u64::try_from(*n)
                .map_err(|_| SizeError::OutOfRange(format!("{n} is negative")))
                .and_then(size::check_size);
            (checked, n.to_string())
        }
        Value::String(s) => (size::parse_size(s), format!("{s:?}")),
        other => {
            return Err(FieldError::WrongType {
                expected: "a size (an integer or a string like \"64MiB\")",
                got: other.type_str(),
            });
        }
    };
    result.map_err(|e| match e {
        SizeError::Malformed => FieldError::BadSize { got },
        SizeError::OutOfRange(reason) => FieldError::Invalid(reason),
    })
}

/// A size greater than zero.
fn positive_size(value: &Value) -> Result<u64, FieldError> {
    match size(value)? {
        0 => Err(FieldError::Invalid(
            "the size must be greater than zero".to_owned(),
        )),
        n => Ok(n),
    }
}

/// A humantime duration string greater than zero.
fn wall_clock(value: &Value) -> Result<Duration, FieldError> {
    let Value::String(text) = value else {
        return Err(FieldError::WrongType {
            expected: "a duration string like \"10m\"",
            got: value.type_str(),
        });
    };
    duration::parse_positive(text).map_err(|reason| FieldError::BadDuration {
        got: format!("{text:?}"),
        reason,
    })
}
