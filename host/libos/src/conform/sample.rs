//! Sample inputs: a valid value of a WIT type, or of a JSON Schema, to call a function with.

use serde_json::{Value, json};
use wasmtime::component::types::{ComponentFunc, Type};

use crate::wit_json::schema::may_be_null;

/// A valid argument object for `func` (its types have a JSON form).
pub fn args(func: &ComponentFunc) -> Value {
    let mut out = serde_json::Map::new();
    for (name, ty) in func.params() {
        out.insert(name.to_owned(), of_type(&ty));
    }
    Value::Object(out)
}

/// A valid JSON value of WIT type `ty`.
pub fn of_type(ty: &Type) -> Value {
    match ty {
        Type::Bool => json!(true),
        Type::S8
        | Type::U8
        | Type::S16
        | Type::U16
        | Type::S32
        | Type::U32
        | Type::S64
        | Type::U64 => {
            json!(1)
        }
        Type::Float32 | Type::Float64 => json!(1.5),
        Type::Char => json!("a"),
        Type::String => json!("sample"),
        Type::List(list) => match list.ty() {
            Type::U8 => json!("AQI="),
            item => json!([of_type(&item)]),
        },
        Type::FixedLengthList(list) => {
            Value::Array((0..list.len()).map(|_| of_type(&list.ty())).collect())
        }
        Type::Map(map) => json!([[of_type(&map.key()), of_type(&map.value())]]),
        Type::Record(record) => Value::Object(
            record
                .fields()
                .map(|f| (f.name.to_owned(), of_type(&f.ty)))
                .collect(),
        ),
        Type::Tuple(tuple) => Value::Array(tuple.types().map(|t| of_type(&t)).collect()),
        Type::Variant(variant) => match variant.cases().next() {
            Some(case) => match &case.ty {
                Some(t) => json!({ "tag": case.name, "val": of_type(t) }),
                None => json!({ "tag": case.name }),
            },
            None => Value::Null,
        },
        Type::Enum(e) => json!(e.names().next()),
        Type::Option(option) => {
            let inner = option.ty();
            if may_be_null(&inner) {
                json!({ "some": of_type(&inner) })
            } else {
                of_type(&inner)
            }
        }
        Type::Result(result) => json!({ "ok": result.ok().map_or(Value::Null, |t| of_type(&t)) }),
        Type::Flags(flags) => json!(flags.names().take(1).collect::<Vec<_>>()),
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            Value::Null
        }
    }
}

/// A value valid against `schema` for the common keywords (`const`, `enum`, `oneOf`/`anyOf`
/// (the first), `type`, `properties`/`required`, `items`/`minItems`, `minLength`,
/// `minimum`/`maximum`); `null` for a schema it cannot satisfy.
pub fn of_schema(schema: &Value) -> Value {
    of_schema_at(schema, 0)
}

fn of_schema_at(schema: &Value, depth: usize) -> Value {
    if depth > 32 {
        return Value::Null;
    }
    let Some(s) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|a| a.first()) {
            return of_schema_at(first, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ => "null",
    };
    match ty {
        "object" => {
            let props = s.get("properties").and_then(Value::as_object);
            let required = s.get("required").and_then(Value::as_array);
            let mut out = serde_json::Map::new();
            for name in required.into_iter().flatten().filter_map(Value::as_str) {
                let sub = props.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                out.insert(name.to_owned(), of_schema_at(sub, depth + 1));
            }
            Value::Object(out)
        }
        "array" => {
            let n = s
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(16);
            let items = s.get("items").unwrap_or(&Value::Null);
            Value::Array((0..n).map(|_| of_schema_at(items, depth + 1)).collect())
        }
        "string" => {
            let n = s
                .get("minLength")
                .and_then(Value::as_u64)
                .unwrap_or(6)
                .min(256);
            Value::String("s".repeat(usize::try_from(n).unwrap_or(6).max(1)))
        }
        "integer" | "number" => {
            let min = s.get("minimum").and_then(Value::as_i64);
            let max = s.get("maximum").and_then(Value::as_i64);
            json!(
                min.unwrap_or(0)
                    .max(0)
                    .min(max.unwrap_or(i64::MAX))
                    .max(min.unwrap_or(i64::MIN))
            )
        }
        "boolean" => json!(true),
        _ => Value::Null,
    }
}
