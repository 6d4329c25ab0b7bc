//! WIT values as JSON: the exact JSON Schema of a function's parameters, derived from its
//! component types, and the conversions between JSON and component values both ways.
//!
//! A plain component (one that does not implement the `tool` world) is called with a JSON
//! object holding one member per parameter, named as in WIT; its result comes back as JSON.
//! How each WIT type looks in JSON (the schema of [`schema::of`] says the same, exactly):
//!
//! | WIT | JSON |
//! |---|---|
//! | `bool` | boolean |
//! | `u8` … `s64` | integer within the type's minimum and maximum |
//! | `f32`, `f64` | number (finite; a result that is not finite is the string `NaN`, `inf` or `-inf`) |
//! | `char` | string of one Unicode scalar value |
//! | `string` | string |
//! | `list<u8>` | string, base64 (standard alphabet, padded) |
//! | `list<T>`, `list<T, N>` | array (of exactly N items) |
//! | `record` | object with every field, no others |
//! | `tuple<…>` | array of exactly its items (`prefixItems`) |
//! | `variant` | object `{"tag": case}` or `{"tag": case, "val": payload}` |
//! | `enum` | one of its case names |
//! | `option<T>` | `null` or T; when T itself may be `null` (an option), `{"some": T}` |
//! | `result<T, E>` | `{"ok": T}` or `{"err": E}` (`null` for a missing payload) |
//! | `flags` | array of distinct flag names |
//! | `map<K, V>` | array of `[key, value]` pairs |
//!
//! Resources, futures, streams and error contexts have no JSON form: a function that takes or
//! returns one is [`Unsupported`], named when the component is loaded.

pub mod docs;
pub mod from_val;
pub mod schema;
pub mod to_val;

use wasmtime::component::types::ComponentFunc;

/// A WIT type with no JSON form, named as in WIT (`resource`, `future`, …), and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at {at} has no JSON form")]
pub struct Unsupported {
    /// The kind of type.
    pub what: String,
    /// Where in the parameters or result (`a.b[0]`-like path).
    pub at: String,
}

/// Checks that every parameter and the result of `func` have a JSON form.
pub fn check_func(func: &ComponentFunc) -> Result<(), Unsupported> {
    schema::params(func)?;
    for (i, ty) in func.results().enumerate() {
        schema::of(
            &ty,
            &format!(
                "result{}",
                if i == 0 { String::new() } else { i.to_string() }
            ),
        )?;
    }
    Ok(())
}
