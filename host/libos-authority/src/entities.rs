//! The entity model handed to Cedar for one request.
//!
//! Policy authors depend on this shape; it is part of the crate's contract:
//!
//! | Cedar element | Value |
//! |---|---|
//! | principal | `Subject::"<subject>"`, e.g. `Subject::"tool:word_count"` (no attributes) |
//! | action | `Action::"<action>"`, e.g. `Action::"fs.read"`, whose parent is the action family `Action::"<family>"` (`Action::"fs"`), so `action in Action::"fs"` holds for every `fs.…` action |
//! | resource | `Resource::"<resource>"` with attributes `path` (the resource string) and `kind` (the action family, e.g. `"fs"`) |
//! | context | `{ "subject": "<subject>", "action": "<action>", "digest": "<hex SHA-256 of the arguments, or empty>" }` |
//!
//! The family of an action is the text before its first `.`; an action without a `.` is its own
//! family and has no parent. No schema is used: policies are evaluated against exactly these
//! entities.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
};

/// Entity type of principals.
pub const SUBJECT_TYPE: &str = "Subject";
/// Entity type of actions and action families.
pub const ACTION_TYPE: &str = "Action";
/// Entity type of resources.
pub const RESOURCE_TYPE: &str = "Resource";

/// The family of `action`: the text before its first `.`, or the whole action.
pub fn action_family(action: &str) -> &str {
    action.split_once('.').map_or(action, |(family, _)| family)
}

/// One request in Cedar's terms: the request itself and the entities it refers to.
pub(crate) struct CedarQuery {
    pub(crate) request: Request,
    pub(crate) entities: Entities,
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let name = EntityTypeName::from_str(type_name)
        .map_err(|e| format!("bad entity type `{type_name}`: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

/// Builds the Cedar request and entities for one check.
///
/// # Errors
/// A message when Cedar rejects the constructed request (never expected for the fixed model;
/// the caller turns it into a denial).
pub(crate) fn build(
    subject: &str,
    action: &str,
    resource: &str,
    digest_hex: &str,
) -> Result<CedarQuery, String> {
    let family = action_family(action);

    let principal = uid(SUBJECT_TYPE, subject)?;
    let action_uid = uid(ACTION_TYPE, action)?;
    let resource_uid = uid(RESOURCE_TYPE, resource)?;

    let mut entities = Vec::with_capacity(4);
    entities.push(Entity::new_no_attrs(principal.clone(), HashSet::new()));
    if family == action {
        entities.push(Entity::new_no_attrs(action_uid.clone(), HashSet::new()));
    } else {
        let family_uid = uid(ACTION_TYPE, family)?;
        entities.push(Entity::new_no_attrs(
            action_uid.clone(),
            HashSet::from([family_uid.clone()]),
        ));
        entities.push(Entity::new_no_attrs(family_uid, HashSet::new()));
    }
    let attrs = HashMap::from([
        (
            "path".to_owned(),
            RestrictedExpression::new_string(resource.to_owned()),
        ),
        (
            "kind".to_owned(),
            RestrictedExpression::new_string(family.to_owned()),
        ),
    ]);
    entities.push(
        Entity::new(resource_uid.clone(), attrs, HashSet::new())
            .map_err(|e| format!("bad resource entity: {e}"))?,
    );
    let entities =
        Entities::from_entities(entities, None).map_err(|e| format!("bad entities: {e}"))?;

    let context = Context::from_pairs([
        (
            "subject".to_owned(),
            RestrictedExpression::new_string(subject.to_owned()),
        ),
        (
            "action".to_owned(),
            RestrictedExpression::new_string(action.to_owned()),
        ),
        (
            "digest".to_owned(),
            RestrictedExpression::new_string(digest_hex.to_owned()),
        ),
    ])
    .map_err(|e| format!("bad context: {e}"))?;

    let request = Request::new(principal, action_uid, resource_uid, context, None)
        .map_err(|e| format!("bad request: {e}"))?;
    Ok(CedarQuery { request, entities })
}
