//! The call queue and ring group field tables, from the PortSIP v22
//! companion API (`/call_queues…`, `/ring_groups…`).
//!
//! `id`, `name` and `extension_number` are core fields kept by the caller
//! (pass [`QUEUE_SKIP`] to [`Table::validate`](super::Table::validate)).
//!
//! * The prompt files are sent as `*_file_id` ([`Kind::FileRef`]: stored as
//!   the file's id, never rendered) and shown as `*_file_name/size/url`,
//!   which the call queue's reader fills in from the file; `null` clears a
//!   prompt. That the file is the tenant's and may be used is decided by the
//!   queue commands.
//! * `ring_strategy` has no default in the spec and renders `null` until set.

use super::{Default as D, Field, Kind, ListType as L, Table};

const QUEUE_RULE: Kind = Kind::ForwardRule {
    actions: &["FORWARD_TO_NUMBER", "FORWARD_TO_VOICEMAIL", "HANGUP"],
    timeout: false,
};
const RING_GROUP_RULE: Kind = Kind::ForwardRule {
    actions: &[
        "FORWARD_TO_NUMBER",
        "FORWARD_TO_VOICEMAIL",
        "REPEAT",
        "HANGUP",
    ],
    timeout: false,
};
const ANY: Kind = Kind::Str { min: 0, max: 0 };
const INT32: i64 = i32::MAX as i64;
const FILE_SIZE: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};

/// Call queue polling strategies.
pub const POLLING_STRATEGIES: &[&str] = &[
    "RING_SIMULTANEOUSLY",
    "PRIORITIZED_HUNT",
    "CYCLIC_HUNT",
    "LEAST_WORKED_HUNT",
    "SKILL_BASED_ROUTING_PRIORITIZED_HUNT",
    "SKILL_BASED_ROUTING_CYCLIC_HUNT",
    "SKILL_BASED_ROUTING_LEAST_WORKED_HUNT",
];

/// Ring group ring strategies.
pub const RING_STRATEGIES: &[&str] = &[
    "RING_SIMULTANEOUSLY",
    "PRIORITIZED_HUNT",
    "CYCLIC_HUNT",
    "LEAST_WORKED_HUNT",
    "PAGING_INTERCOM",
    "SKILL_BASED_ROUTING_PRIORITIZED_HUNT",
    "SKILL_BASED_ROUTING_CYCLIC_HUNT",
    "SKILL_BASED_ROUTING_LEAST_WORKED_HUNT",
];

/// Every non-core call queue attribute, in `GET /call_queues/{id}` order.
pub static CALL_QUEUE: Table = Table {
    resource: "call queue",
    fields: &[
        Field::new("polling_strategy", Kind::Enum(POLLING_STRATEGIES))
            .required()
            .default(D::Str("RING_SIMULTANEOUSLY"))
            .summary()
            .list(L::String),
        Field::new("ring_time", Kind::Int { min: 1, max: 65535 })
            .default(D::Int(20))
            .summary()
            .list(L::Number),
        Field::new("max_callers", Kind::Int { min: 0, max: INT32 }),
        Field::new("moh_prompt_file_id", Kind::FileRef),
        Field::new("moh_prompt_file_name", ANY).read_only(),
        Field::new("moh_prompt_file_size", FILE_SIZE).read_only(),
        Field::new("moh_prompt_file_url", ANY).read_only(),
        Field::new("intro_type", Kind::Enum(&["DISABLE", "NORMAL", "FULL"]))
            .default(D::Str("DISABLE")),
        Field::new("intro_prompt_file_id", Kind::FileRef),
        Field::new("intro_prompt_file_name", ANY).read_only(),
        Field::new("intro_prompt_file_size", FILE_SIZE).read_only(),
        Field::new("intro_prompt_file_url", ANY).read_only(),
        Field::new(
            "max_waiting_time",
            Kind::Int {
                min: 15,
                max: 65535,
            },
        )
        .default(D::Int(300)),
        Field::new("wait_when_no_agents_online", Kind::Bool).default(D::Bool(false)),
        Field::new(
            "inform_position",
            Kind::Enum(&["DISABLE", "PERIODICALLY", "ON_CONNECTED"]),
        )
        .default(D::Str("DISABLE")),
        Field::new("inform_position_interval", Kind::Int { min: 10, max: 1800 })
            .default(D::Int(10)),
        Field::new("agent_auto_ready", Kind::Bool).default(D::Bool(true)),
        Field::new("agent_auto_not_ready_after_non_acd_call", Kind::Bool).default(D::Bool(true)),
        Field::new("sla_time", Kind::Int { min: 0, max: 65536 }).default(D::Int(0)),
        Field::new("language", ANY),
        Field::new("no_answer_forward_rule", QUEUE_RULE),
        Field::new("night_mode_forward_rule", QUEUE_RULE),
        Field::new("enable_callback", Kind::Bool).default(D::Bool(false)),
        Field::new("callback_mode", Kind::Enum(&["ACTIVE", "TIMEOUT"])).default(D::Str("ACTIVE")),
        Field::new("callback_timeout", Kind::Int { min: 0, max: INT32 }).default(D::Int(600)),
        Field::new("callback_outbound_prefix", ANY),
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: false })
            .default(D::EmptyList),
        Field::new("enable_sticky_routing", Kind::Bool).default(D::Bool(true)),
        Field::new("sticky_routing_duration", Kind::Int { min: 1, max: 365 }).default(D::Int(30)),
        Field::new("enable_paid", Kind::Bool).default(D::Bool(false)),
        Field::new("enable_prid", Kind::Bool).default(D::Bool(false)),
        Field::new("extension_number_as_to_header", Kind::Bool).default(D::Bool(false)),
    ],
};

/// Every non-core ring group attribute, in `GET /ring_groups/{id}` order.
pub static RING_GROUP: Table = Table {
    resource: "ring group",
    fields: &[
        Field::new("ring_time", Kind::Int { min: 0, max: INT32 })
            .default(D::Int(20))
            .summary()
            .list(L::Number),
        Field::new("ring_strategy", Kind::Enum(RING_STRATEGIES))
            .summary()
            .list(L::String),
        Field::new("skip_busy_member", Kind::Bool)
            .summary()
            .list(L::Bool),
        Field::new("enable_paid", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("enable_prid", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("extension_number_as_to_header", Kind::Bool)
            .default(D::Bool(false))
            .summary(),
        Field::new("no_answer_forward_rule", RING_GROUP_RULE).summary(),
        Field::new("night_mode_forward_rule", RING_GROUP_RULE).summary(),
        Field::new("outbound_caller_ids", Kind::CallerIds { preferred: false })
            .default(D::EmptyList),
    ],
};

/// Names the caller handles itself: pass as `skip` to
/// [`Table::validate`](super::Table::validate).
pub static QUEUE_SKIP: &[&str] = &["id", "name", "extension_number"];

/// Filterable core fields, listed before the table's own list fields.
pub static QUEUE_CORE_LIST: &[(&str, L)] = &[
    ("id", L::String),
    ("name", L::String),
    ("extension_number", L::String),
];

/// Searched core fields.
pub static QUEUE_CORE_SEARCH: &[&str] = &["name", "extension_number"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, FieldError, Mode};
    use serde_json::json;
    use std::collections::BTreeSet;

    const COMPANION: &str = "portsip-companion-openapi.json";

    /// The table's input names (what a body may carry besides core fields).
    fn inputs(t: &Table) -> BTreeSet<String> {
        set(t
            .fields
            .iter()
            .filter(|f| f.create != crate::field_tables::Access::ReadOnly)
            .map(|f| f.name))
    }

    /// The table's output names.
    fn outputs(t: &Table) -> BTreeSet<String> {
        set(t
            .fields
            .iter()
            .filter(|f| !f.kind.input_only())
            .map(|f| f.name))
    }

    fn check(t: &Table, base: &str, create_core: &[&str]) {
        let doc = spec::load(COMPANION);
        let item = format!("{base}/{{id}}");
        let create = set(spec::props(&spec::body(&doc, base, "post")));
        assert_eq!(create, &inputs(t) | &set(create_core), "POST {base}");
        let update = set(spec::props(&spec::body(&doc, &item, "post")));
        assert_eq!(update, &inputs(t) | &set(["name"]), "POST {item}");
        let show = spec::response(&doc, &item, "get", "200");
        let core = set(QUEUE_CORE_LIST.iter().map(|(n, _)| *n));
        assert_eq!(set(spec::props(&show)), &outputs(t) | &core, "GET {item}");
        assert_eq!(spec::compare(t.fields, &show, ""), Vec::<String>::new());
        let list = spec::response(&doc, base, "get", "200");
        let items = set(spec::props(&list["properties"]["items"]["items"]));
        assert_eq!(items, &core | &set(t.summary_fields()), "GET {base}");
    }

    #[test]
    fn call_queue_table_matches_the_spec() {
        check(&CALL_QUEUE, "/call_queues", &["name", "extension_number"]);
        let doc = spec::load(COMPANION);
        let required = set(spec::required(&spec::body(&doc, "/call_queues", "post")));
        assert_eq!(
            required,
            set(["name", "extension_number", "polling_strategy"])
        );
    }

    #[test]
    fn ring_group_table_matches_the_spec() {
        check(&RING_GROUP, "/ring_groups", &["name", "extension_number"]);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = CALL_QUEUE.validate(
            &obj(json!({"polling_strategy": "RANDOM"})),
            Mode::Create,
            QUEUE_SKIP,
        );
        assert!(matches!(bad, Err(FieldError { ref field, .. }) if field == "polling_strategy"));
        let missing = CALL_QUEUE.validate(&obj(json!({})), Mode::Create, QUEUE_SKIP);
        assert!(
            matches!(missing, Err(FieldError { ref field, .. }) if field == "polling_strategy")
        );
        let ro = CALL_QUEUE.validate(
            &obj(json!({"moh_prompt_file_url": "x"})),
            Mode::Update,
            QUEUE_SKIP,
        );
        assert!(matches!(ro, Err(FieldError { ref field, .. }) if field == "moh_prompt_file_url"));
        let rule = RING_GROUP.validate(
            &obj(json!({"no_answer_forward_rule": {"action": "REPEAT"}})),
            Mode::Update,
            QUEUE_SKIP,
        );
        assert!(rule.is_ok());
        let rule = CALL_QUEUE.validate(
            &obj(json!({"no_answer_forward_rule": {"action": "REPEAT"}})),
            Mode::Update,
            QUEUE_SKIP,
        );
        assert!(rule.is_err());
    }
}
