//! Component values to JSON, by the rules of the module table in [`super`], led by the type
//! (an empty `list<u8>` is `""`, an empty `list<s32>` is `[]`).

use base64::Engine as _;
use serde_json::{Value, json};
use wasmtime::component::Val;
use wasmtime::component::types::{ComponentFunc, Type};

use super::Unsupported;
use super::schema::may_be_null;

/// The JSON form of what `func` returned: `null` for no result, the value for one, an array
/// for several.
pub fn results(func: &ComponentFunc, vals: &[Val]) -> Result<Value, Unsupported> {
    let types: Vec<Type> = func.results().collect();
    let mut out = Vec::with_capacity(vals.len());
    for (i, (ty, v)) in types.iter().zip(vals).enumerate() {
        out.push(json_of(ty, v, &format!("result[{i}]"))?);
    }
    Ok(match out.len() {
        0 => Value::Null,
        1 => out.swap_remove(0),
        _ => Value::Array(out),
    })
}

/// The JSON form of `val`, of type `ty`.
pub fn json_of(ty: &Type, val: &Val, at: &str) -> Result<Value, Unsupported> {
    Ok(match (ty, val) {
        (_, Val::Bool(b)) => json!(b),
        (_, Val::S8(x)) => json!(x),
        (_, Val::U8(x)) => json!(x),
        (_, Val::S16(x)) => json!(x),
        (_, Val::U16(x)) => json!(x),
        (_, Val::S32(x)) => json!(x),
        (_, Val::U32(x)) => json!(x),
        (_, Val::S64(x)) => json!(x),
        (_, Val::U64(x)) => json!(x),
        (_, Val::Float32(x)) => float(f64::from(*x)),
        (_, Val::Float64(x)) => float(*x),
        (_, Val::Char(c)) => json!(c.to_string()),
        (_, Val::String(s)) => json!(s),
        (Type::List(of_items), Val::List(items)) => match of_items.ty() {
            Type::U8 => {
                let bytes: Vec<u8> = items
                    .iter()
                    .filter_map(|v| match v {
                        Val::U8(b) => Some(*b),
                        _ => None,
                    })
                    .collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            item => list(&item, items, at)?,
        },
        (Type::FixedLengthList(fixed), Val::FixedLengthList(items)) => {
            list(&fixed.ty(), items, at)?
        }
        (Type::Map(map), Val::Map(pairs)) => Value::Array(
            pairs
                .iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    Ok(json!([
                        json_of(&map.key(), k, &format!("{at}[{i}]{{key}}"))?,
                        json_of(&map.value(), v, &format!("{at}[{i}]{{value}}"))?
                    ]))
                })
                .collect::<Result<_, Unsupported>>()?,
        ),
        (Type::Record(record), Val::Record(fields)) => {
            let mut out = serde_json::Map::new();
            for (field, (name, v)) in record.fields().zip(fields) {
                out.insert(
                    name.clone(),
                    json_of(&field.ty, v, &format!("{at}.{name}"))?,
                );
            }
            Value::Object(out)
        }
        (Type::Tuple(tuple), Val::Tuple(items)) => Value::Array(
            tuple
                .types()
                .zip(items)
                .enumerate()
                .map(|(i, (t, v))| json_of(&t, v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (Type::Variant(variant), Val::Variant(tag, payload)) => {
            let case_ty = variant.cases().find(|c| c.name == tag).and_then(|c| c.ty);
            match (case_ty, payload) {
                (Some(t), Some(v)) => {
                    json!({ "tag": tag, "val": json_of(&t, v, &format!("{at}<{tag}>"))? })
                }
                _ => json!({ "tag": tag }),
            }
        }
        (_, Val::Enum(name)) => json!(name),
        (_, Val::Option(None)) => Value::Null,
        (Type::Option(option), Val::Option(Some(v))) => {
            let inner_ty = option.ty();
            let inner = json_of(&inner_ty, v, &format!("{at}?"))?;
            if may_be_null(&inner_ty) {
                json!({ "some": inner })
            } else {
                inner
            }
        }
        (Type::Result(result), Val::Result(Ok(v))) => {
            json!({ "ok": payload(result.ok(), v.as_deref(), &format!("{at}<ok>"))? })
        }
        (Type::Result(result), Val::Result(Err(v))) => {
            json!({ "err": payload(result.err(), v.as_deref(), &format!("{at}<err>"))? })
        }
        (_, Val::Flags(names)) => json!(names),
        (_, Val::Resource(_)) => return Err(unsupported("resource", at)),
        (_, Val::Future(_)) => return Err(unsupported("future", at)),
        (_, Val::Stream(_)) => return Err(unsupported("stream", at)),
        (_, Val::ErrorContext(_)) => return Err(unsupported("error-context", at)),
        // A value that does not match its type (not produced by wasmtime).
        _ => return Err(unsupported("a value of another type than declared", at)),
    })
}

fn payload(ty: Option<Type>, v: Option<&Val>, at: &str) -> Result<Value, Unsupported> {
    match (ty, v) {
        (Some(t), Some(v)) => json_of(&t, v, at),
        _ => Ok(Value::Null),
    }
}

fn list(ty: &Type, items: &[Val], at: &str) -> Result<Value, Unsupported> {
    Ok(Value::Array(
        items
            .iter()
            .enumerate()
            .map(|(i, v)| json_of(ty, v, &format!("{at}[{i}]")))
            .collect::<Result<_, _>>()?,
    ))
}

fn float(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}

fn unsupported(what: &str, at: &str) -> Unsupported {
    Unsupported {
        what: what.to_owned(),
        at: at.to_owned(),
    }
}
