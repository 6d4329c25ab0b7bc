//! The JSON Schema (draft 2020-12) of WIT types, exact: see the module table in [`super`].

use serde_json::{Value, json};
use wasmtime::component::types::{ComponentFunc, Type};

use super::Unsupported;

/// The schema dialect every derived schema declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of the argument object of `func`: one required member per parameter, no others.
pub fn params(func: &ComponentFunc) -> Result<Value, Unsupported> {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty) in func.params() {
        properties.insert(name.to_owned(), of(&ty, name)?);
        required.push(Value::String(name.to_owned()));
    }
    Ok(json!({
        "$schema": DIALECT,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    }))
}

/// The schema of a value of type `ty`; `at` names where it is, for [`Unsupported`].
pub fn of(ty: &Type, at: &str) -> Result<Value, Unsupported> {
    Ok(match ty {
        Type::Bool => json!({ "type": "boolean" }),
        Type::S8 => integer(i8::MIN, i8::MAX),
        Type::U8 => integer(u8::MIN, u8::MAX),
        Type::S16 => integer(i16::MIN, i16::MAX),
        Type::U16 => integer(u16::MIN, u16::MAX),
        Type::S32 => integer(i32::MIN, i32::MAX),
        Type::U32 => integer(u32::MIN, u32::MAX),
        Type::S64 => integer(i64::MIN, i64::MAX),
        Type::U64 => integer(u64::MIN, u64::MAX),
        Type::Float32 | Type::Float64 => json!({ "type": "number" }),
        Type::Char => json!({ "type": "string", "minLength": 1, "maxLength": 1 }),
        Type::String => json!({ "type": "string" }),
        Type::List(list) => match list.ty() {
            Type::U8 => json!({ "type": "string", "contentEncoding": "base64" }),
            item => json!({ "type": "array", "items": of(&item, &format!("{at}[]"))? }),
        },
        Type::FixedLengthList(list) => json!({
            "type": "array",
            "items": of(&list.ty(), &format!("{at}[]"))?,
            "minItems": list.len(),
            "maxItems": list.len(),
        }),
        Type::Map(map) => json!({
            "type": "array",
            "items": {
                "type": "array",
                "prefixItems": [
                    of(&map.key(), &format!("{at}{{key}}"))?,
                    of(&map.value(), &format!("{at}{{value}}"))?,
                ],
                "minItems": 2,
                "maxItems": 2,
                "items": false,
            },
        }),
        Type::Record(record) => {
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for field in record.fields() {
                properties.insert(
                    field.name.to_owned(),
                    of(&field.ty, &format!("{at}.{}", field.name))?,
                );
                required.push(Value::String(field.name.to_owned()));
            }
            json!({
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            })
        }
        Type::Tuple(tuple) => {
            let items = tuple
                .types()
                .enumerate()
                .map(|(i, t)| of(&t, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let n = items.len();
            json!({
                "type": "array",
                "prefixItems": items,
                "minItems": n,
                "maxItems": n,
                "items": false,
            })
        }
        Type::Variant(variant) => {
            let cases = variant
                .cases()
                .map(|case| {
                    let mut properties = serde_json::Map::new();
                    properties.insert("tag".into(), json!({ "const": case.name }));
                    let mut required = vec![json!("tag")];
                    if let Some(payload) = &case.ty {
                        properties
                            .insert("val".into(), of(payload, &format!("{at}<{}>", case.name))?);
                        required.push(json!("val"));
                    }
                    Ok(json!({
                        "type": "object",
                        "properties": properties,
                        "required": required,
                        "additionalProperties": false,
                    }))
                })
                .collect::<Result<Vec<_>, Unsupported>>()?;
            json!({ "oneOf": cases })
        }
        Type::Enum(e) => json!({ "type": "string", "enum": e.names().collect::<Vec<_>>() }),
        Type::Option(option) => {
            let inner = option.ty();
            let some = of(&inner, &format!("{at}?"))?;
            let some = if may_be_null(&inner) {
                json!({
                    "type": "object",
                    "properties": { "some": some },
                    "required": ["some"],
                    "additionalProperties": false,
                })
            } else {
                some
            };
            json!({ "oneOf": [{ "type": "null" }, some] })
        }
        Type::Result(result) => {
            let arm = |name: &str, ty: Option<Type>| -> Result<Value, Unsupported> {
                let payload = match ty {
                    Some(t) => of(&t, &format!("{at}<{name}>"))?,
                    None => json!({ "type": "null" }),
                };
                Ok(json!({
                    "type": "object",
                    "properties": { name: payload },
                    "required": [name],
                    "additionalProperties": false,
                }))
            };
            json!({ "oneOf": [arm("ok", result.ok())?, arm("err", result.err())?] })
        }
        Type::Flags(flags) => json!({
            "type": "array",
            "items": { "enum": flags.names().collect::<Vec<_>>() },
            "uniqueItems": true,
        }),
        Type::Own(_) | Type::Borrow(_) => return Err(unsupported("resource", at)),
        Type::Future(_) => return Err(unsupported("future", at)),
        Type::Stream(_) => return Err(unsupported("stream", at)),
        Type::ErrorContext => return Err(unsupported("error-context", at)),
    })
}

/// Whether a value of `ty` may be JSON `null` (then an enclosing option is `{"some": …}`).
pub(crate) fn may_be_null(ty: &Type) -> bool {
    matches!(ty, Type::Option(_))
}

fn integer(min: impl Into<Value>, max: impl Into<Value>) -> Value {
    json!({ "type": "integer", "minimum": min.into(), "maximum": max.into() })
}

fn unsupported(what: &str, at: &str) -> Unsupported {
    Unsupported {
        what: what.to_owned(),
        at: at.to_owned(),
    }
}
