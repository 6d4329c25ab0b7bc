//! JSON to component values, by the rules of the module table in [`super`]: what does not
//! fit the type exactly (a missing or extra member, an integer out of range, a fraction, a
//! string of two characters, bad base64, …) is refused with where and what was expected.

use base64::Engine as _;
use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::component::types::{ComponentFunc, Type};

use super::schema::may_be_null;

/// An argument that does not fit its parameter's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: expected {expected}")]
pub struct ArgError {
    /// Where (`a`, `a.x`, `shapes[2]<circle>`, …).
    pub at: String,
    /// What the type needs there.
    pub expected: String,
}

fn wrong(at: &str, expected: impl Into<String>) -> ArgError {
    ArgError {
        at: at.to_owned(),
        expected: expected.into(),
    }
}

/// The arguments of `func` from `input`, an object with one member per parameter.
pub fn args(func: &ComponentFunc, input: &Value) -> Result<Vec<Val>, ArgError> {
    let Value::Object(members) = input else {
        return Err(wrong("(input)", "an object with one member per parameter"));
    };
    let names: Vec<&str> = func.params().map(|(name, _)| name).collect();
    if let Some(extra) = members.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(wrong(
            extra,
            format!("no such parameter (parameters: {})", names.join(", ")),
        ));
    }
    func.params()
        .map(|(name, ty)| match members.get(name) {
            Some(value) => val(&ty, value, name),
            None => Err(wrong(name, "a value (the parameter is missing)")),
        })
        .collect()
}

/// The value of type `ty` that `json` stands for.
pub fn val(ty: &Type, json: &Value, at: &str) -> Result<Val, ArgError> {
    Ok(match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or_else(|| wrong(at, "a boolean"))?),
        Type::S8 => Val::S8(int(json, at, "s8")?),
        Type::U8 => Val::U8(int(json, at, "u8")?),
        Type::S16 => Val::S16(int(json, at, "s16")?),
        Type::U16 => Val::U16(int(json, at, "u16")?),
        Type::S32 => Val::S32(int(json, at, "s32")?),
        Type::U32 => Val::U32(int(json, at, "u32")?),
        Type::S64 => Val::S64(int(json, at, "s64")?),
        Type::U64 => Val::U64(int(json, at, "u64")?),
        Type::Float32 => {
            let x = number(json, at)?;
            #[allow(clippy::cast_possible_truncation)]
            let narrow = x as f32;
            if !narrow.is_finite() {
                return Err(wrong(at, "a number within the range of f32"));
            }
            Val::Float32(narrow)
        }
        Type::Float64 => Val::Float64(number(json, at)?),
        Type::Char => {
            let text = json
                .as_str()
                .ok_or_else(|| wrong(at, "a one-character string"))?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(wrong(at, "a string of exactly one character")),
            }
        }
        Type::String => Val::String(
            json.as_str()
                .ok_or_else(|| wrong(at, "a string"))?
                .to_owned(),
        ),
        Type::List(list) => match list.ty() {
            Type::U8 => {
                let text = json
                    .as_str()
                    .ok_or_else(|| wrong(at, "a base64 string (list<u8>)"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| wrong(at, format!("base64 (standard, padded): {e}")))?;
                Val::List(bytes.into_iter().map(Val::U8).collect())
            }
            item => Val::List(items(&item, array(json, at)?, at)?),
        },
        Type::FixedLengthList(list) => {
            let given = array(json, at)?;
            if given.len() != list.len() as usize {
                return Err(wrong(
                    at,
                    format!("an array of exactly {} items", list.len()),
                ));
            }
            Val::FixedLengthList(items(&list.ty(), given, at)?)
        }
        Type::Map(map) => {
            let pairs = array(json, at)?;
            let mut out = Vec::with_capacity(pairs.len());
            for (i, pair) in pairs.iter().enumerate() {
                let here = format!("{at}[{i}]");
                match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => out.push((
                        val(&map.key(), k, &format!("{here}{{key}}"))?,
                        val(&map.value(), v, &format!("{here}{{value}}"))?,
                    )),
                    _ => return Err(wrong(&here, "a [key, value] pair")),
                }
            }
            Val::Map(out)
        }
        Type::Record(record) => {
            let members = json.as_object().ok_or_else(|| wrong(at, "an object"))?;
            let names: Vec<&str> = record.fields().map(|f| f.name).collect();
            if let Some(extra) = members.keys().find(|k| !names.contains(&k.as_str())) {
                return Err(wrong(&format!("{at}.{extra}"), "no such field"));
            }
            let mut fields = Vec::with_capacity(names.len());
            for field in record.fields() {
                let here = format!("{at}.{}", field.name);
                let value = members
                    .get(field.name)
                    .ok_or_else(|| wrong(&here, "a value (the field is missing)"))?;
                fields.push((field.name.to_owned(), val(&field.ty, value, &here)?));
            }
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            let given = array(json, at)?;
            if given.len() != tuple.types().len() {
                return Err(wrong(
                    at,
                    format!("an array of exactly {} items", tuple.types().len()),
                ));
            }
            Val::Tuple(
                tuple
                    .types()
                    .zip(given)
                    .enumerate()
                    .map(|(i, (t, v))| val(&t, v, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Variant(variant) => {
            let members = json
                .as_object()
                .ok_or_else(|| wrong(at, "an object {\"tag\": case, \"val\": payload}"))?;
            let tag = members
                .get("tag")
                .and_then(Value::as_str)
                .ok_or_else(|| wrong(at, "a `tag` naming a case"))?;
            let case = variant.cases().find(|c| c.name == tag).ok_or_else(|| {
                let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
                wrong(at, format!("a tag among {}", names.join(", ")))
            })?;
            if let Some(extra) = members.keys().find(|k| *k != "tag" && *k != "val") {
                return Err(wrong(&format!("{at}.{extra}"), "only `tag` and `val`"));
            }
            let here = format!("{at}<{tag}>");
            let payload = match (&case.ty, members.get("val")) {
                (Some(t), Some(v)) => Some(Box::new(val(t, v, &here)?)),
                (Some(_), None) => return Err(wrong(&here, "a `val` (the case has a payload)")),
                (None, None) => None,
                (None, Some(_)) => return Err(wrong(&here, "no `val` (the case has none)")),
            };
            Val::Variant(tag.to_owned(), payload)
        }
        Type::Enum(e) => {
            let name = json.as_str().ok_or_else(|| wrong(at, "a case name"))?;
            if !e.names().any(|n| n == name) {
                let names: Vec<&str> = e.names().collect();
                return Err(wrong(at, format!("one of {}", names.join(", "))));
            }
            Val::Enum(name.to_owned())
        }
        Type::Option(option) => {
            let inner = option.ty();
            match json {
                Value::Null => Val::Option(None),
                _ if may_be_null(&inner) => {
                    let some = json
                        .as_object()
                        .filter(|m| m.len() == 1)
                        .and_then(|m| m.get("some"))
                        .ok_or_else(|| wrong(at, "null or {\"some\": value}"))?;
                    Val::Option(Some(Box::new(val(&inner, some, &format!("{at}?"))?)))
                }
                _ => Val::Option(Some(Box::new(val(&inner, json, &format!("{at}?"))?))),
            }
        }
        Type::Result(result) => {
            let members = json
                .as_object()
                .filter(|m| m.len() == 1)
                .ok_or_else(|| wrong(at, "{\"ok\": value} or {\"err\": value}"))?;
            let (name, payload) = members
                .iter()
                .next()
                .ok_or_else(|| wrong(at, "ok or err"))?;
            let arm = |ty: Option<Type>, which: &str| -> Result<Option<Box<Val>>, ArgError> {
                let here = format!("{at}<{which}>");
                match (ty, payload) {
                    (Some(t), v) => Ok(Some(Box::new(val(&t, v, &here)?))),
                    (None, Value::Null) => Ok(None),
                    (None, _) => Err(wrong(&here, "null (no payload)")),
                }
            };
            match name.as_str() {
                "ok" => Val::Result(Ok(arm(result.ok(), "ok")?)),
                "err" => Val::Result(Err(arm(result.err(), "err")?)),
                _ => return Err(wrong(at, "{\"ok\": value} or {\"err\": value}")),
            }
        }
        Type::Flags(flags) => {
            let given = array(json, at)?;
            let mut set: Vec<String> = Vec::with_capacity(given.len());
            for (i, v) in given.iter().enumerate() {
                let here = format!("{at}[{i}]");
                let name = v.as_str().ok_or_else(|| wrong(&here, "a flag name"))?;
                if !flags.names().any(|n| n == name) {
                    let names: Vec<&str> = flags.names().collect();
                    return Err(wrong(&here, format!("one of {}", names.join(", "))));
                }
                if set.iter().any(|s| s == name) {
                    return Err(wrong(&here, "each flag at most once"));
                }
                set.push(name.to_owned());
            }
            Val::Flags(set)
        }
        Type::Own(_) | Type::Borrow(_) => {
            return Err(wrong(at, "nothing: a resource has no JSON form"));
        }
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err(wrong(at, "nothing: this type has no JSON form"));
        }
    })
}

fn items(ty: &Type, given: &[Value], at: &str) -> Result<Vec<Val>, ArgError> {
    given
        .iter()
        .enumerate()
        .map(|(i, v)| val(ty, v, &format!("{at}[{i}]")))
        .collect()
}

fn array<'a>(json: &'a Value, at: &str) -> Result<&'a [Value], ArgError> {
    json.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| wrong(at, "an array"))
}

fn number(json: &Value, at: &str) -> Result<f64, ArgError> {
    json.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| wrong(at, "a number"))
}

/// An integer of type `T` (`name` in WIT): a JSON integer in range, no fraction.
fn int<T: TryFrom<i64> + TryFrom<u64>>(json: &Value, at: &str, name: &str) -> Result<T, ArgError> {
    let out_of_range = || wrong(at, format!("an integer within the range of {name}"));
    if let Some(u) = json.as_u64() {
        return T::try_from(u).map_err(|_| out_of_range());
    }
    if let Some(i) = json.as_i64() {
        return T::try_from(i).map_err(|_| out_of_range());
    }
    Err(out_of_range())
}
