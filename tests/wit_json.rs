//! WIT values as JSON (`libos::wit_json`) on the `zoo` fixture, a plain component exporting
//! one function per kind of WIT value: the derived schemas are exact, arguments are converted
//! and refused by where they do not fit, and calls give their results back as JSON.

use libos::wit_json::{from_val, schema, to_val};
use serde_json::{Value, json};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

const ZOO: &str = "libos:zoo/zoo@0.1.0";

struct Zoo {
    engine: Engine,
    component: Component,
}

impl Zoo {
    fn load() -> anyhow::Result<Zoo> {
        let engine = Engine::default();
        let component = Component::from_file(&engine, libos_guests::ZOO)?;
        Ok(Zoo { engine, component })
    }

    /// Every exported function, as `name` (top level) or `zoo.name` (in the interface).
    fn funcs(&self) -> Vec<(String, ComponentFunc)> {
        let mut out = Vec::new();
        for (name, item) in self.component.component_type().exports(&self.engine) {
            match item.ty {
                ComponentItem::ComponentFunc(f) => out.push((name.to_owned(), f)),
                ComponentItem::ComponentInstance(inst) => {
                    for (fname, item) in inst.exports(&self.engine) {
                        if let ComponentItem::ComponentFunc(f) = item.ty {
                            out.push((format!("zoo.{fname}"), f));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn func(&self, name: &str) -> anyhow::Result<ComponentFunc> {
        self.funcs()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
            .ok_or_else(|| anyhow::anyhow!("no function {name}"))
    }

    /// Calls `name` with the JSON `input`; conversion errors come back as `Err`.
    fn call(&self, name: &str, input: &Value) -> anyhow::Result<Value> {
        let ty = self.func(name)?;
        let args = to_val::args(&ty, input)?;
        let mut store = Store::new(&self.engine, ());
        let instance = Linker::new(&self.engine).instantiate(&mut store, &self.component)?;
        let func = match name.strip_prefix("zoo.") {
            Some(f) => {
                let iface = instance
                    .get_export_index(&mut store, None, ZOO)
                    .ok_or_else(|| anyhow::anyhow!("no {ZOO}"))?;
                let index = instance
                    .get_export_index(&mut store, Some(&iface), f)
                    .ok_or_else(|| anyhow::anyhow!("no {f}"))?;
                instance.get_func(&mut store, index)
            }
            None => instance.get_func(&mut store, name),
        }
        .ok_or_else(|| anyhow::anyhow!("no func {name}"))?;
        let mut results = vec![wasmtime::component::Val::Bool(false); ty.results().len()];
        func.call(&mut store, &args, &mut results)?;
        Ok(from_val::results(&ty, &results)?)
    }
}

fn params_schema(zoo: &Zoo, name: &str) -> anyhow::Result<Value> {
    Ok(schema::params(&zoo.func(name)?)?)
}

/// The `properties` of the parameters' schema.
fn props(zoo: &Zoo, name: &str) -> anyhow::Result<Value> {
    Ok(params_schema(zoo, name)?["properties"].clone())
}

#[test]
fn every_export_is_found_and_resources_are_refused_by_name() -> anyhow::Result<()> {
    let zoo = Zoo::load()?;
    let names: Vec<String> = zoo.funcs().into_iter().map(|(n, _)| n).collect();
    for expected in [
        "hello",
        "zoo.add-u8",
        "zoo.area",
        "zoo.big-shapes",
        "zoo.swap",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let mut refused = Vec::new();
    for (name, f) in zoo.funcs() {
        if let Err(e) = libos::wit_json::check_func(&f) {
            assert_eq!(e.what, "resource", "{name}: {e}");
            refused.push(format!("{name}: {e}"));
        }
    }
    refused.sort();
    assert_eq!(
        refused,
        [
            "zoo.[constructor]counter: resource at result has no JSON form",
            "zoo.[method]counter.inc: resource at self has no JSON form",
            "zoo.read-counter: resource at c has no JSON form",
        ],
        "{names:?}"
    );
    assert_eq!(names.len(), 17 + 3, "{names:?}");
    Ok(())
}

#[test]
fn schemas_are_exact_for_every_kind_of_type() -> anyhow::Result<()> {
    let zoo = Zoo::load()?;
    assert_eq!(
        params_schema(&zoo, "zoo.add-u8")?,
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "a": {"type": "integer", "minimum": 0, "maximum": 255},
                "b": {"type": "integer", "minimum": 0, "maximum": 255},
            },
            "required": ["a", "b"],
            "additionalProperties": false,
        })
    );
    let ints = props(&zoo, "zoo.ints")?;
    assert_eq!(
        ints["a"],
        json!({"type": "integer", "minimum": -128, "maximum": 127})
    );
    assert_eq!(
        ints["b"],
        json!({"type": "integer", "minimum": -32768, "maximum": 32767})
    );
    assert_eq!(
        ints["d"],
        json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
    );
    assert_eq!(
        ints["g"],
        json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
    );
    assert_eq!(props(&zoo, "zoo.floats")?["a"], json!({"type": "number"}));
    assert_eq!(
        props(&zoo, "zoo.next-char")?["c"],
        json!({"type": "string", "minLength": 1, "maxLength": 1})
    );
    assert_eq!(
        props(&zoo, "zoo.reverse-bytes")?["b"],
        json!({"type": "string", "contentEncoding": "base64"})
    );
    assert_eq!(
        props(&zoo, "zoo.sum")?["xs"],
        json!({"type": "array", "items": {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}})
    );
    let s32 = json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX});
    assert_eq!(
        props(&zoo, "zoo.move-point")?,
        json!({
            "p": {
                "type": "object",
                "properties": {"x": s32, "y": s32},
                "required": ["x", "y"],
                "additionalProperties": false,
            },
            "by": {
                "type": "array",
                "prefixItems": [s32, s32],
                "minItems": 2,
                "maxItems": 2,
                "items": false,
            },
        })
    );
    let u32 = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    assert_eq!(
        props(&zoo, "zoo.maybe")?["x"],
        json!({"oneOf": [{"type": "null"}, u32]})
    );
    assert_eq!(
        props(&zoo, "zoo.nested")?["x"],
        json!({"oneOf": [{"type": "null"}, {
            "type": "object",
            "properties": {"some": {"oneOf": [{"type": "null"}, {"type": "string"}]}},
            "required": ["some"],
            "additionalProperties": false,
        }]})
    );
    let case = |tag: &str, val: Option<Value>| {
        let mut properties = json!({"tag": {"const": tag}});
        let mut required = json!(["tag"]);
        if let Some(v) = val {
            properties["val"] = v;
            required = json!(["tag", "val"]);
        }
        json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
    };
    assert_eq!(
        props(&zoo, "zoo.area")?["s"],
        json!({"oneOf": [
            case("circle", Some(json!({"type": "number"}))),
            case("square", Some(json!({"type": "number"}))),
            case("dot", None),
        ]})
    );
    let paint = props(&zoo, "zoo.paint")?;
    assert_eq!(
        paint["c"],
        json!({"type": "string", "enum": ["red", "green", "blue"]})
    );
    assert_eq!(
        paint["p"],
        json!({"type": "array", "items": {"enum": ["read", "write", "exec"]}, "uniqueItems": true})
    );
    assert_eq!(
        props(&zoo, "zoo.swap")?["t"]["prefixItems"],
        json!([{"type": "string"}, {"type": "integer", "minimum": 0, "maximum": 255}, {"type": "boolean"}])
    );
    assert_eq!(
        params_schema(&zoo, "hello")?["properties"],
        json!({"name": {"type": "string"}})
    );
    Ok(())
}

#[test]
fn calls_convert_arguments_and_results_both_ways() -> anyhow::Result<()> {
    let zoo = Zoo::load()?;
    let cases: Vec<(&str, Value, Value)> = vec![
        ("hello", json!({"name": "zoo"}), json!("hello, zoo")),
        ("zoo.add-u8", json!({"a": 250, "b": 10}), json!(4)),
        (
            "zoo.ints",
            json!({"a": -128, "b": -32768, "c": -1, "d": 1, "e": 65535, "f": 4294967295u64, "g": 1}),
            json!(-128 - 32768 - 1 + 1 + 65535 + 4294967295i64 + 1),
        ),
        ("zoo.floats", json!({"a": 1.5, "b": 2.25}), json!(3.75)),
        ("zoo.next-char", json!({"c": "é"}), json!("ê")),
        ("zoo.shout", json!({"s": "hé"}), json!("HÉ!")),
        ("zoo.reverse-bytes", json!({"b": "AQID"}), json!("AwIB")),
        ("zoo.reverse-bytes", json!({"b": ""}), json!("")),
        ("zoo.sum", json!({"xs": []}), json!(0)),
        (
            "zoo.sum",
            json!({"xs": [i32::MAX, i32::MAX]}),
            json!(2 * i64::from(i32::MAX)),
        ),
        (
            "zoo.move-point",
            json!({"p": {"x": 1, "y": 2}, "by": [10, -20]}),
            json!({"x": 11, "y": -18}),
        ),
        ("zoo.maybe", json!({"x": null}), Value::Null),
        ("zoo.maybe", json!({"x": 41}), json!(42)),
        ("zoo.maybe", json!({"x": u32::MAX}), Value::Null),
        ("zoo.nested", json!({"x": null}), json!("none")),
        (
            "zoo.nested",
            json!({"x": {"some": null}}),
            json!("some(none)"),
        ),
        (
            "zoo.nested",
            json!({"x": {"some": "s"}}),
            json!("some(some(s))"),
        ),
        (
            "zoo.area",
            json!({"s": {"tag": "square", "val": 3.0}}),
            json!(9.0),
        ),
        ("zoo.area", json!({"s": {"tag": "dot"}}), json!(0.0)),
        (
            "zoo.paint",
            json!({"c": "green", "p": ["exec", "read"]}),
            json!("Color::Green read+exec"),
        ),
        ("zoo.divide", json!({"a": 7, "b": 2}), json!({"ok": 3})),
        (
            "zoo.divide",
            json!({"a": 7, "b": 0}),
            json!({"err": "cannot divide 7 by 0"}),
        ),
        ("zoo.unit-result", json!({"ok": true}), json!({"ok": null})),
        (
            "zoo.unit-result",
            json!({"ok": false}),
            json!({"err": null}),
        ),
        (
            "zoo.swap",
            json!({"t": ["s", 7, true]}),
            json!([true, 7, "s"]),
        ),
        (
            "zoo.big-shapes",
            json!({"shapes": [[{"tag": "circle", "val": 1.0}, "red"], [{"tag": "dot"}, "blue"], [{"tag": "square", "val": 2.0}, "green"]], "over": 3.0}),
            json!(["red", "green"]),
        ),
    ];
    for (name, input, expected) in cases {
        let got = zoo.call(name, &input)?;
        assert_eq!(got, expected, "{name}({input})");
    }
    Ok(())
}

#[test]
fn arguments_that_do_not_fit_are_refused_by_where() -> anyhow::Result<()> {
    let zoo = Zoo::load()?;
    let refused = |name: &str, input: Value| -> anyhow::Result<to_val::ArgError> {
        let f = zoo.func(name)?;
        match to_val::args(&f, &input) {
            Err(e) => Ok(e),
            Ok(v) => anyhow::bail!("{name}({input}) was accepted: {v:?}"),
        }
    };
    let at = |name: &str, input: Value| -> anyhow::Result<String> { Ok(refused(name, input)?.at) };
    assert_eq!(at("zoo.add-u8", json!({"a": 256, "b": 0}))?, "a");
    assert_eq!(at("zoo.add-u8", json!({"a": -1, "b": 0}))?, "a");
    assert_eq!(at("zoo.add-u8", json!({"a": 1.5, "b": 0}))?, "a");
    assert_eq!(at("zoo.add-u8", json!({"a": "1", "b": 0}))?, "a");
    assert_eq!(at("zoo.add-u8", json!({"a": 1}))?, "b");
    assert_eq!(at("zoo.add-u8", json!({"a": 1, "b": 2, "c": 3}))?, "c");
    assert_eq!(at("zoo.add-u8", json!([1, 2]))?, "(input)");
    assert_eq!(
        at(
            "zoo.ints",
            json!({"a": 0, "b": 0, "c": 0, "d": 0, "e": 0, "f": 0, "g": -1})
        )?,
        "g"
    );
    assert_eq!(at("zoo.floats", json!({"a": 1e300, "b": 0}))?, "a");
    assert_eq!(at("zoo.next-char", json!({"c": "ab"}))?, "c");
    assert_eq!(at("zoo.next-char", json!({"c": ""}))?, "c");
    assert_eq!(at("zoo.reverse-bytes", json!({"b": "not base64!"}))?, "b");
    assert_eq!(at("zoo.reverse-bytes", json!({"b": [1, 2]}))?, "b");
    assert_eq!(at("zoo.sum", json!({"xs": [1, "2"]}))?, "xs[1]");
    assert_eq!(
        at("zoo.move-point", json!({"p": {"x": 1}, "by": [0, 0]}))?,
        "p.y"
    );
    assert_eq!(
        at(
            "zoo.move-point",
            json!({"p": {"x": 1, "y": 2, "z": 3}, "by": [0, 0]})
        )?,
        "p.z"
    );
    assert_eq!(
        at("zoo.move-point", json!({"p": {"x": 1, "y": 2}, "by": [0]}))?,
        "by"
    );
    assert_eq!(at("zoo.nested", json!({"x": "s"}))?, "x");
    assert_eq!(at("zoo.area", json!({"s": {"tag": "hexagon"}}))?, "s");
    assert_eq!(
        at("zoo.area", json!({"s": {"tag": "circle"}}))?,
        "s<circle>"
    );
    assert_eq!(
        at("zoo.area", json!({"s": {"tag": "dot", "val": 1}}))?,
        "s<dot>"
    );
    assert_eq!(at("zoo.paint", json!({"c": "purple", "p": []}))?, "c");
    assert_eq!(
        at("zoo.paint", json!({"c": "red", "p": ["read", "read"]}))?,
        "p[1]"
    );
    assert_eq!(at("zoo.paint", json!({"c": "red", "p": ["fly"]}))?, "p[0]");
    assert_eq!(at("zoo.swap", json!({"t": ["s", 300, true]}))?, "t[1]");
    let e = refused("zoo.add-u8", json!({"a": 300, "b": 0}))?;
    assert!(e.to_string().contains("u8"), "{e}");
    Ok(())
}
