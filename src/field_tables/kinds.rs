//! Validation, normalization and rendering of each [`Kind`].
//!
//! Every check returns the normalized [`Value`] or a [`FieldError`] whose
//! `field` is the dotted path of the offending value (`[i]` for list items).
//! Nested structures are closed: unknown keys are rejected with
//! "unknown field", and a `null` nested key is treated as absent.
//!
//! # Rules beyond the spec's types
//!
//! * **Hours** (`office_hours`, custom forward rule `hours`): times are
//!   strictly `HH:MM` (two digits each), `HH` 00–23, `MM` 00–59. `"24:00"` is
//!   accepted as a `to` only (end of day, so a range can cover the last
//!   minute); it is never a valid `from`. Each range must have `from` earlier
//!   than `to`, and the ranges of one day must not overlap (touching ranges
//!   such as 09:00–12:00 and 12:00–13:00 are fine). Ranges keep the order in
//!   which they were sent. Days that are not sent stay absent.
//! * **Forward rules**: `action` is required and must be one of the rule's own
//!   actions (e.g. the `*_no_answer_*` and non-`available`/`busy` rules have
//!   no `RING_ANYWAY`). `number` is required when the action is
//!   `FORWARD_TO_NUMBER`, otherwise optional; an empty `number` counts as
//!   absent. A number is digits with an optional leading `+`, at most
//!   [`FORWARD_NUMBER_MAX`] characters. `timeout` (only on rules that have it)
//!   is seconds, `0..=`[`FORWARD_TIMEOUT_MAX`]; the spec gives no maximum, ten
//!   minutes of ringing is a generous ceiling. A missing timeout renders as
//!   [`FORWARD_TIMEOUT_DEFAULT`].
//! * **Custom forward rules** additionally require `type`, and `hours` when
//!   the type is `SPECIFIC_HOURS` or `OUTSIDE_SPECIFIC_HOURS`.
//! * **Outbound caller IDs**: `provider_id` (non-empty) and `caller_id`
//!   (1–64 characters) are required; at most one item may be `preferred`.
//! * **BLFs**: all four keys are optional strings.
//! * **List sizes**: the spec gives no `maxItems`; these limits bound what a
//!   client can make every later read render: at most [`BLFS_MAX`] BLF
//!   keys (more than any phone with expansion modules shows),
//!   [`CALLER_IDS_MAX`] outbound caller IDs, [`CUSTOM_FORWARD_RULES_MAX`]
//!   custom forward rules and [`RANGES_PER_DAY_MAX`] ranges per day of
//!   weekly hours. A longer list is a 400 naming the field.
//! * **URLs** (webhooks): the spec's pattern for `url` (`[a-z0-9]{6,64}`) is a
//!   copy-paste of the credential pattern and cannot describe a URL; an
//!   absolute `http(s)://` URL of at most 128 characters is required instead.

use super::{to_json, Access, Field, FieldError, Fields, Kind, Value};
use serde_json::{Map, Value as Json};

/// The seven day keys of weekly hours, in order.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Values of `office_hours.mode`.
pub const OFFICE_HOURS_MODES: &[&str] = &["GLOBAL", "CUSTOM"];
/// Forward actions of the rules that may ring anyway.
pub const FORWARD_ACTIONS_WITH_RING: &[&str] = &[
    "FORWARD_TO_NUMBER",
    "FORWARD_TO_VOICEMAIL",
    "RING_ANYWAY",
    "HANGUP",
];
/// Forward actions of the rules that may not ring anyway.
pub const FORWARD_ACTIONS: &[&str] = &["FORWARD_TO_NUMBER", "FORWARD_TO_VOICEMAIL", "HANGUP"];
/// The action that requires a `number`.
pub const FORWARD_TO_NUMBER: &str = "FORWARD_TO_NUMBER";
/// Values of a custom forward rule's `type`.
pub const CUSTOM_RULE_TYPES: &[&str] = &["ALL_HOURS", "SPECIFIC_HOURS", "OUTSIDE_SPECIFIC_HOURS"];
/// Default ringing timeout of no-answer forward rules, in seconds (spec).
pub const FORWARD_TIMEOUT_DEFAULT: i64 = 60;
/// Largest accepted ringing timeout, in seconds (our choice; spec has none).
pub const FORWARD_TIMEOUT_MAX: i64 = 600;
/// Longest forward destination number, in characters.
pub const FORWARD_NUMBER_MAX: usize = 64;
/// Longest outbound caller ID (spec).
pub const CALLER_ID_MAX: usize = 64;
/// Most BLF keys a user may have.
pub const BLFS_MAX: usize = 256;
/// Most outbound caller IDs a user or tenant may have.
pub const CALLER_IDS_MAX: usize = 64;
/// Most custom forward rules a user may have.
pub const CUSTOM_FORWARD_RULES_MAX: usize = 64;
/// Most time ranges one day of weekly hours may have.
pub const RANGES_PER_DAY_MAX: usize = 48;
/// Longest outbound caller ID description (spec).
pub const CALLER_ID_DESCRIPTION_MAX: usize = 1024;
/// Longest accepted time zone name or language tag.
pub const NAME_TOKEN_MAX: usize = 64;

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Validates `v` against `kind`; `path` names the value in errors.
pub(crate) fn check(kind: &Kind, v: &Json, path: &str) -> Result<Value, FieldError> {
    match *kind {
        Kind::Str { min, max } => string(v, path, min, max).map(Value::Str),
        Kind::Name { min, max } => {
            let s = string(v, path, min, max)?;
            if s.trim() != s {
                return Err(FieldError::new(
                    path,
                    "must not start or end with whitespace",
                ));
            }
            Ok(Value::Str(s))
        }
        Kind::Email { max } => {
            let s = string(v, path, 0, max)?;
            if !is_email(&s) {
                return Err(FieldError::new(path, "must be a valid email address"));
            }
            Ok(Value::Str(s))
        }
        Kind::EmailList { max } => email_list(v, path, max),
        Kind::Digits { min, max } => {
            let s = str_of(v, path)?;
            let n = s.chars().count();
            if n < min || n > max || !s.chars().all(|c| c.is_ascii_digit()) {
                return Err(FieldError::new(
                    path,
                    format!("must be {min} to {max} digits"),
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::LowerAlnum { min, max } => {
            let s = str_of(v, path)?;
            let n = s.chars().count();
            let ok = s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if n < min || n > max || !ok {
                return Err(FieldError::new(
                    path,
                    format!("must be {min} to {max} lowercase letters or digits"),
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::Code { len } => {
            let s = str_of(v, path)?;
            if s.chars().count() != len || !s.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(FieldError::new(
                    path,
                    format!("must be {len} uppercase letters"),
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::TimeZone => {
            let s = str_of(v, path)?;
            if !is_time_zone(s) {
                return Err(FieldError::new(
                    path,
                    "must be an IANA time zone name such as Asia/Shanghai",
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::LangTag => {
            let s = str_of(v, path)?;
            if !is_lang_tag(s) {
                return Err(FieldError::new(
                    path,
                    "must be a BCP 47 language tag such as en-US",
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::DateTime => {
            let s = str_of(v, path)?;
            let rfc3339 = &time::format_description::well_known::Rfc3339;
            let t = time::OffsetDateTime::parse(s, rfc3339)
                .ok()
                .and_then(|t| t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).ok())
                .and_then(|t| t.format(rfc3339).ok())
                .ok_or_else(|| {
                    FieldError::new(
                        path,
                        "must be an RFC 3339 date-time such as 2017-07-21T17:32:28Z",
                    )
                })?;
            Ok(Value::Str(t))
        }
        Kind::Url { max } => {
            let s = string(v, path, 1, max)?;
            if !is_http_url(&s) {
                return Err(FieldError::new(path, "must be an http:// or https:// URL"));
            }
            Ok(Value::Str(s))
        }
        Kind::DiskQuota => {
            let s = str_of(v, path)?;
            if !is_disk_quota(s) {
                return Err(FieldError::new(
                    path,
                    "must be a positive number followed by KB, MB, GB, TB or PB (e.g. 100MB), \
                     or empty for unlimited",
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::Mac => {
            let s = str_of(v, path)?;
            if !is_mac(s) {
                return Err(FieldError::new(
                    path,
                    "must be a MAC address such as 00:1A:2B:3C:4D:5E",
                ));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::StrList { max_items, max_len } => {
            let items = bounded(v, path, max_items)?;
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                list.push(Value::Str(string(item, &index(path, i), 1, max_len)?));
            }
            Ok(Value::List(list))
        }
        Kind::Bool => match v {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(FieldError::new(path, "must be a boolean")),
        },
        Kind::Int { min, max } => int(v, path, min, max).map(Value::Int),
        Kind::Enum(values) => enumeration(v, path, values).map(|s| Value::Str(s.to_string())),
        Kind::WeekHours { with_mode } => week_hours(v, path, with_mode),
        Kind::ForwardRule { actions, timeout } => forward_rule(v, path, actions, timeout),
        Kind::CustomForwardRules => custom_forward_rules(v, path),
        Kind::CallerIds { preferred } => caller_ids(v, path, preferred),
        Kind::Blfs => blfs(v, path),
        Kind::Object(fields) => object(fields, v, path),
        Kind::CheckedObject { fields, check } => {
            let value = object(fields, v, path)?;
            if let Value::Map(m) = &value {
                check(m).map_err(|e| e.under(path))?;
            }
            Ok(value)
        }
        Kind::JsonText => {
            let s = str_of(v, path)?;
            if !s.is_empty() && serde_json::from_str::<Json>(s).is_err() {
                return Err(FieldError::new(path, "must be a valid JSON string"));
            }
            Ok(Value::Str(s.to_string()))
        }
        Kind::Secret { max } => {
            let s = string(v, path, 0, max)?;
            Ok(if s.is_empty() {
                Value::Null
            } else {
                Value::Str(s)
            })
        }
        Kind::Accepted => str_of(v, path).map(|s| Value::Str(s.to_string())),
        Kind::FileRef => {
            let id = crate::ids::parse(str_of(v, path)?)
                .ok_or_else(|| FieldError::new(path, "is not a file of this tenant"))?;
            Ok(Value::Int(i64::try_from(id.0).unwrap_or(i64::MAX)))
        }
    }
}

/// The effective form of a stored (non-null) value: nested objects get their
/// sub-field defaults, forward rules get `number: null` and the default
/// timeout when missing. Other kinds are returned unchanged.
pub(crate) fn effective_value(kind: &Kind, v: &Value) -> Value {
    match (kind, v) {
        (Kind::Object(fields) | Kind::CheckedObject { fields, .. }, Value::Map(m)) => {
            let mut out = Fields::new();
            for f in fields.iter() {
                if matches!(f.kind, Kind::Accepted) {
                    continue;
                }
                let value = match m.get(f.name) {
                    Some(x) if *x != Value::Null => effective_value(&f.kind, x),
                    _ => f.default_value(),
                };
                out.insert(f.name.to_string(), value);
            }
            Value::Map(out)
        }
        (Kind::ForwardRule { timeout, .. }, Value::Map(m)) => {
            let mut out = m.clone();
            out.entry("number".to_string()).or_insert(Value::Null);
            if *timeout {
                out.entry("timeout".to_string())
                    .or_insert(Value::Int(FORWARD_TIMEOUT_DEFAULT));
            }
            Value::Map(out)
        }
        _ => v.clone(),
    }
}

/// Renders an effective value: secrets become `null` (also inside nested
/// objects), everything else is converted with [`to_json`].
pub(crate) fn render_value(kind: &Kind, v: &Value) -> Json {
    match (kind, v) {
        (Kind::Secret { .. }, _) => Json::Null,
        (Kind::Object(fields) | Kind::CheckedObject { fields, .. }, Value::Map(m)) => {
            let mut out = Map::new();
            for f in fields.iter() {
                if let Some(x) = m.get(f.name) {
                    out.insert(f.name.to_string(), render_value(&f.kind, x));
                }
            }
            Json::Object(out)
        }
        _ => to_json(v),
    }
}

// ---------------------------------------------------------------- scalars

fn str_of<'a>(v: &'a Json, path: &str) -> Result<&'a str, FieldError> {
    v.as_str()
        .ok_or_else(|| FieldError::new(path, "must be a string"))
}

fn string(v: &Json, path: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let s = str_of(v, path)?;
    let n = s.chars().count();
    if max > 0 && n > max {
        return Err(FieldError::new(
            path,
            format!("must be at most {max} characters"),
        ));
    }
    if n < min {
        let msg = if min == 1 {
            "must not be empty".to_string()
        } else {
            format!("must be at least {min} characters")
        };
        return Err(FieldError::new(path, msg));
    }
    Ok(s.to_string())
}

fn int(v: &Json, path: &str, min: i64, max: i64) -> Result<i64, FieldError> {
    match v.as_i64() {
        Some(i) if i >= min && i <= max => Ok(i),
        _ => Err(FieldError::new(
            path,
            if max == i64::MAX {
                format!("must be an integer of at least {min}")
            } else {
                format!("must be an integer between {min} and {max}")
            },
        )),
    }
}

fn enumeration<'a>(v: &Json, path: &str, values: &'a [&'a str]) -> Result<&'a str, FieldError> {
    v.as_str()
        .and_then(|s| values.iter().copied().find(|x| *x == s))
        .ok_or_else(|| FieldError::new(path, format!("must be one of {}", values.join(", "))))
}

/// Whether `s` is a MAC address: 12 hex digits, either bare or as six
/// pairs joined by one separator (`:` or `-`) used throughout.
pub fn is_mac(s: &str) -> bool {
    let hex = |p: &str| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit());
    if s.len() == 12 {
        return s.chars().all(|c| c.is_ascii_hexdigit());
    }
    [':', '-'].iter().any(|sep| {
        let parts: Vec<&str> = s.split(*sep).collect();
        parts.len() == 6 && parts.iter().all(|p| hex(p))
    })
}

/// Basic e-mail shape: exactly one `@`, non-empty local and domain parts,
/// no whitespace or control characters.
pub fn is_email(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    }
}

fn email_list(v: &Json, path: &str, max: usize) -> Result<Value, FieldError> {
    let s = str_of(v, path)?;
    if s.trim().is_empty() {
        return Ok(Value::Str(s.to_string()));
    }
    let entries: Vec<&str> = s.split(',').map(str::trim).collect();
    if entries.len() > max {
        return Err(FieldError::new(
            path,
            format!("must contain at most {max} email addresses"),
        ));
    }
    for entry in entries {
        if entry.is_empty() {
            return Err(FieldError::new(
                path,
                "must be a comma-separated list of email addresses",
            ));
        }
        if !is_email(entry) || entry.chars().count() > 128 {
            return Err(FieldError::new(
                path,
                format!("'{entry}' is not a valid email address"),
            ));
        }
    }
    Ok(Value::Str(s.to_string()))
}

fn is_time_zone(s: &str) -> bool {
    s.len() <= NAME_TOKEN_MAX
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

fn is_lang_tag(s: &str) -> bool {
    if s.len() > NAME_TOKEN_MAX {
        return false;
    }
    let mut parts = s.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_http_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_disk_quota(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.len() <= 18
        && digits.chars().any(|c| c != '0')
        && matches!(unit, "KB" | "MB" | "GB" | "TB" | "PB")
}

// ---------------------------------------------------------------- objects

fn object_map<'a>(v: &'a Json, path: &str) -> Result<&'a Map<String, Json>, FieldError> {
    v.as_object()
        .ok_or_else(|| FieldError::new(path, "must be an object"))
}

fn array<'a>(v: &'a Json, path: &str) -> Result<&'a Vec<Json>, FieldError> {
    v.as_array()
        .ok_or_else(|| FieldError::new(path, "must be an array"))
}

/// An array of at most `max` items.
fn bounded<'a>(v: &'a Json, path: &str, max: usize) -> Result<&'a Vec<Json>, FieldError> {
    let items = array(v, path)?;
    if items.len() > max {
        return Err(FieldError::new(
            path,
            format!("must have at most {max} items"),
        ));
    }
    Ok(items)
}

fn closed(m: &Map<String, Json>, allowed: &[&str], path: &str) -> Result<(), FieldError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(FieldError::new(join(path, k), "unknown field")),
        None => Ok(()),
    }
}

/// A present, non-null nested key.
fn get<'a>(m: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    m.get(key).filter(|v| !v.is_null())
}

fn object(fields: &[Field], v: &Json, path: &str) -> Result<Value, FieldError> {
    let m = object_map(v, path)?;
    if let Some(k) = m
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        return Err(FieldError::new(join(path, k), "unknown field"));
    }
    let mut out = Fields::new();
    for f in fields {
        let p = join(path, f.name);
        match m.get(f.name) {
            None => {
                if f.create == Access::Required {
                    return Err(FieldError::new(p, "is required"));
                }
            }
            Some(Json::Null) => {
                if f.create == Access::Required {
                    return Err(FieldError::new(p, "is required"));
                }
                if !f.nullable && !matches!(f.kind, Kind::Secret { .. }) {
                    return Err(FieldError::new(p, "must not be null"));
                }
            }
            Some(raw) => {
                if f.create == Access::ReadOnly {
                    return Err(FieldError::new(p, "is read-only"));
                }
                let value = check(&f.kind, raw, &p)?;
                if !matches!(f.kind, Kind::Accepted) && value != Value::Null {
                    out.insert(f.name.to_string(), value);
                }
            }
        }
    }
    Ok(Value::Map(out))
}

// ---------------------------------------------------------------- hours

/// Parses `HH:MM` into minutes since midnight. `24:00` (= 1440) is accepted
/// only when `end_of_day` is true.
pub fn parse_hhmm(s: &str, end_of_day: bool) -> Option<u32> {
    let [h1, h2, b':', m1, m2] = s.as_bytes() else {
        return None;
    };
    let digit = |b: &u8| b.is_ascii_digit().then(|| u32::from(*b - b'0'));
    let h = digit(h1)? * 10 + digit(h2)?;
    let m = digit(m1)? * 10 + digit(m2)?;
    if h < 24 && m < 60 {
        Some(h * 60 + m)
    } else if end_of_day && h == 24 && m == 0 {
        Some(24 * 60)
    } else {
        None
    }
}

fn week_hours(v: &Json, path: &str, with_mode: bool) -> Result<Value, FieldError> {
    let m = object_map(v, path)?;
    let mut allowed: Vec<&str> = WEEKDAYS.to_vec();
    if with_mode {
        allowed.push("mode");
    }
    closed(m, &allowed, path)?;
    let mut out = Fields::new();
    if with_mode {
        if let Some(mode) = get(m, "mode") {
            let mode = enumeration(mode, &join(path, "mode"), OFFICE_HOURS_MODES)?;
            out.insert("mode".into(), Value::Str(mode.to_string()));
        }
    }
    for day in WEEKDAYS {
        if let Some(d) = get(m, day) {
            out.insert(day.to_string(), day_hours(d, &join(path, day))?);
        }
    }
    Ok(Value::Map(out))
}

fn day_hours(v: &Json, path: &str) -> Result<Value, FieldError> {
    let m = object_map(v, path)?;
    closed(m, &["enabled", "ranges"], path)?;
    let mut out = Fields::new();
    if let Some(enabled) = get(m, "enabled") {
        out.insert(
            "enabled".into(),
            check(&Kind::Bool, enabled, &join(path, "enabled"))?,
        );
    }
    if let Some(ranges) = get(m, "ranges") {
        let rpath = join(path, "ranges");
        let items = bounded(ranges, &rpath, RANGES_PER_DAY_MAX)?;
        let mut parsed: Vec<(u32, u32, usize)> = Vec::with_capacity(items.len());
        let mut list = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let ipath = index(&rpath, i);
            let r = object_map(item, &ipath)?;
            closed(r, &["from", "to"], &ipath)?;
            let time = |key: &str, end_of_day: bool| -> Result<(u32, String), FieldError> {
                let kpath = join(&ipath, key);
                let raw = get(r, key).ok_or_else(|| FieldError::new(&kpath, "is required"))?;
                let s = str_of(raw, &kpath)?;
                parse_hhmm(s, end_of_day)
                    .map(|t| (t, s.to_string()))
                    .ok_or_else(|| FieldError::new(&kpath, "must be HH:MM"))
            };
            let (from, from_s) = time("from", false)?;
            let (to, to_s) = time("to", true)?;
            if from >= to {
                return Err(FieldError::new(ipath, "'from' must be earlier than 'to'"));
            }
            parsed.push((from, to, i));
            let mut range = Fields::new();
            range.insert("from".into(), Value::Str(from_s));
            range.insert("to".into(), Value::Str(to_s));
            list.push(Value::Map(range));
        }
        parsed.sort_unstable();
        // Sorted by start: a range overlaps an earlier one iff it starts
        // before the furthest end seen so far.
        let mut furthest: Option<(u32, usize)> = None;
        for &(from, to, i) in &parsed {
            if let Some((end, j)) = furthest {
                if from < end {
                    let (later, earlier) = if i > j { (i, j) } else { (j, i) };
                    return Err(FieldError::new(
                        index(&rpath, later),
                        format!("must not overlap ranges[{earlier}]"),
                    ));
                }
            }
            if furthest.is_none_or(|(end, _)| to > end) {
                furthest = Some((to, i));
            }
        }
        out.insert("ranges".into(), Value::List(list));
    }
    Ok(Value::Map(out))
}

// ---------------------------------------------------------------- forwarding

fn forward_number(
    m: &Map<String, Json>,
    path: &str,
    action: &str,
) -> Result<Option<String>, FieldError> {
    let npath = join(path, "number");
    let number = match get(m, "number") {
        None => None,
        Some(raw) => Some(str_of(raw, &npath)?).filter(|s| !s.is_empty()),
    };
    match number {
        None if action == FORWARD_TO_NUMBER => Err(FieldError::new(
            npath,
            "is required when action is FORWARD_TO_NUMBER",
        )),
        None => Ok(None),
        Some(s) => {
            let digits = s.strip_prefix('+').unwrap_or(s);
            if digits.is_empty()
                || !digits.chars().all(|c| c.is_ascii_digit())
                || s.chars().count() > FORWARD_NUMBER_MAX
            {
                return Err(FieldError::new(
                    npath,
                    format!(
                        "must be digits with an optional leading '+', \
                         at most {FORWARD_NUMBER_MAX} characters"
                    ),
                ));
            }
            Ok(Some(s.to_string()))
        }
    }
}

fn action<'a>(
    m: &Map<String, Json>,
    path: &str,
    actions: &'a [&'a str],
) -> Result<&'a str, FieldError> {
    let apath = join(path, "action");
    let raw = get(m, "action").ok_or_else(|| FieldError::new(&apath, "is required"))?;
    enumeration(raw, &apath, actions)
}

fn forward_rule(
    v: &Json,
    path: &str,
    actions: &'static [&'static str],
    timeout: bool,
) -> Result<Value, FieldError> {
    let m = object_map(v, path)?;
    let allowed: &[&str] = if timeout {
        &["action", "number", "timeout"]
    } else {
        &["action", "number"]
    };
    closed(m, allowed, path)?;
    let action = action(m, path, actions)?;
    let mut out = Fields::new();
    out.insert("action".into(), Value::Str(action.to_string()));
    if let Some(n) = forward_number(m, path, action)? {
        out.insert("number".into(), Value::Str(n));
    }
    if timeout {
        if let Some(t) = get(m, "timeout") {
            let t = int(t, &join(path, "timeout"), 0, FORWARD_TIMEOUT_MAX)?;
            out.insert("timeout".into(), Value::Int(t));
        }
    }
    Ok(Value::Map(out))
}

fn custom_forward_rules(v: &Json, path: &str) -> Result<Value, FieldError> {
    let items = bounded(v, path, CUSTOM_FORWARD_RULES_MAX)?;
    let mut list = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let m = object_map(item, &ipath)?;
        closed(
            m,
            &["action", "number", "caller_id", "type", "hours"],
            &ipath,
        )?;
        let action = action(m, &ipath, FORWARD_ACTIONS_WITH_RING)?;
        let mut out = Fields::new();
        out.insert("action".into(), Value::Str(action.to_string()));
        if let Some(n) = forward_number(m, &ipath, action)? {
            out.insert("number".into(), Value::Str(n));
        }
        if let Some(c) = get(m, "caller_id") {
            let c = str_of(c, &join(&ipath, "caller_id"))?;
            out.insert("caller_id".into(), Value::Str(c.to_string()));
        }
        let tpath = join(&ipath, "type");
        let ty = get(m, "type").ok_or_else(|| FieldError::new(&tpath, "is required"))?;
        let ty = enumeration(ty, &tpath, CUSTOM_RULE_TYPES)?;
        out.insert("type".into(), Value::Str(ty.to_string()));
        match get(m, "hours") {
            Some(h) => {
                out.insert(
                    "hours".into(),
                    week_hours(h, &join(&ipath, "hours"), false)?,
                );
            }
            None if ty != "ALL_HOURS" => {
                return Err(FieldError::new(
                    join(&ipath, "hours"),
                    format!("is required when type is {ty}"),
                ));
            }
            None => {}
        }
        list.push(Value::Map(out));
    }
    Ok(Value::List(list))
}

// ---------------------------------------------------------------- lists

fn caller_ids(v: &Json, path: &str, preferred: bool) -> Result<Value, FieldError> {
    let items = bounded(v, path, CALLER_IDS_MAX)?;
    let allowed: &[&str] = if preferred {
        &["provider_id", "caller_id", "preferred", "description"]
    } else {
        &["provider_id", "caller_id", "description"]
    };
    let mut list = Vec::with_capacity(items.len());
    let mut preferred_seen = false;
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let m = object_map(item, &ipath)?;
        closed(m, allowed, &ipath)?;
        let mut out = Fields::new();
        for (key, min, max) in [("provider_id", 1, 0), ("caller_id", 1, CALLER_ID_MAX)] {
            let kpath = join(&ipath, key);
            let raw = get(m, key).ok_or_else(|| FieldError::new(&kpath, "is required"))?;
            out.insert(key.into(), Value::Str(string(raw, &kpath, min, max)?));
        }
        if let Some(d) = get(m, "description") {
            let d = string(
                d,
                &join(&ipath, "description"),
                0,
                CALLER_ID_DESCRIPTION_MAX,
            )?;
            out.insert("description".into(), Value::Str(d));
        }
        if preferred {
            if let Some(p) = get(m, "preferred") {
                let ppath = join(&ipath, "preferred");
                let p = p
                    .as_bool()
                    .ok_or_else(|| FieldError::new(&ppath, "must be a boolean"))?;
                if p && preferred_seen {
                    return Err(FieldError::new(
                        ppath,
                        "only one caller ID may be preferred",
                    ));
                }
                preferred_seen |= p;
                out.insert("preferred".into(), Value::Bool(p));
            }
        }
        list.push(Value::Map(out));
    }
    Ok(Value::List(list))
}

fn blfs(v: &Json, path: &str) -> Result<Value, FieldError> {
    const KEYS: [&str; 4] = ["key", "value", "first_name", "last_name"];
    let items = bounded(v, path, BLFS_MAX)?;
    let mut list = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let m = object_map(item, &ipath)?;
        closed(m, &KEYS, &ipath)?;
        let mut out = Fields::new();
        for key in KEYS {
            if let Some(raw) = get(m, key) {
                let s = str_of(raw, &join(&ipath, key))?;
                out.insert(key.into(), Value::Str(s.to_string()));
            }
        }
        list.push(Value::Map(out));
    }
    Ok(Value::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::{Default, Field};
    use serde_json::json;

    fn ok(kind: Kind, v: Json) -> Value {
        match check(&kind, &v, "f") {
            Ok(x) => x,
            Err(e) => panic!("{v} rejected: {e}"),
        }
    }

    fn bad(kind: Kind, v: Json) -> FieldError {
        match check(&kind, &v, "f") {
            Ok(x) => panic!("{v} accepted as {x:?}"),
            Err(e) => e,
        }
    }

    fn e(field: &str, message: &str) -> FieldError {
        FieldError::new(field, message)
    }

    const HOURS: Kind = Kind::WeekHours { with_mode: true };

    #[test]
    fn lists_are_bounded() {
        let blf = json!({"key": "k"});
        ok(Kind::Blfs, json!(vec![blf.clone(); BLFS_MAX]));
        assert_eq!(
            bad(Kind::Blfs, json!(vec![blf; BLFS_MAX + 1])),
            e("f", "must have at most 256 items")
        );
        let id = json!({"provider_id": "p", "caller_id": "1"});
        assert_eq!(
            bad(
                Kind::CallerIds { preferred: true },
                json!(vec![id; CALLER_IDS_MAX + 1])
            ),
            e("f", "must have at most 64 items")
        );
        let rule = json!({"action": "HANGUP", "type": "ALL_HOURS"});
        assert_eq!(
            bad(
                Kind::CustomForwardRules,
                json!(vec![rule; CUSTOM_FORWARD_RULES_MAX + 1])
            ),
            e("f", "must have at most 64 items")
        );
        let ranges: Vec<Json> = (0..=RANGES_PER_DAY_MAX)
            .map(|i| json!({"from": format!("{:02}:00", i % 24), "to": "24:00"}))
            .collect();
        assert_eq!(
            bad(HOURS, json!({"monday": {"ranges": ranges}})),
            e("f.monday.ranges", "must have at most 48 items")
        );
    }

    #[test]
    fn str_lengths_count_chars() {
        let k = Kind::Str { min: 0, max: 3 };
        assert_eq!(ok(k, json!("äöü")), Value::Str("äöü".into()));
        assert_eq!(
            bad(k, json!("äöüß")),
            e("f", "must be at most 3 characters")
        );
        assert_eq!(bad(k, json!(3)), e("f", "must be a string"));
        let k = Kind::Str { min: 2, max: 0 };
        assert_eq!(bad(k, json!("a")), e("f", "must be at least 2 characters"));
        ok(k, json!("a".repeat(10_000)));
        assert_eq!(
            bad(Kind::Str { min: 1, max: 0 }, json!("")),
            e("f", "must not be empty")
        );
    }

    #[test]
    fn names_are_not_trimmed_but_rejected() {
        let k = Kind::Name { min: 1, max: 5 };
        assert_eq!(ok(k, json!("Ann B")), Value::Str("Ann B".into()));
        assert_eq!(
            bad(k, json!(" Ann")),
            e("f", "must not start or end with whitespace")
        );
        assert_eq!(
            bad(k, json!("Ann\n")),
            e("f", "must not start or end with whitespace")
        );
        assert_eq!(bad(k, json!("")), e("f", "must not be empty"));
    }

    #[test]
    fn email_shape() {
        let k = Kind::Email { max: 30 };
        ok(k, json!("a@b"));
        ok(k, json!("first.last@example.com"));
        for v in ["", "ab", "@b", "a@", "a@b@c", "a b@c", "a@b c"] {
            assert_eq!(
                bad(k, json!(v)),
                e("f", "must be a valid email address"),
                "{v}"
            );
        }
        assert_eq!(
            bad(k, json!(format!("{}@b", "ä".repeat(29)))),
            e("f", "must be at most 30 characters")
        );
    }

    #[test]
    fn email_list() {
        let k = Kind::EmailList { max: 2 };
        ok(k, json!(""));
        ok(k, json!("a@b.c, d@e.f"));
        assert_eq!(
            bad(k, json!("a@b,c@d,e@f")),
            e("f", "must contain at most 2 email addresses")
        );
        assert_eq!(
            bad(k, json!("a@b,,")),
            e("f", "must contain at most 2 email addresses")
        );
        assert_eq!(
            bad(k, json!("a@b,")),
            e("f", "must be a comma-separated list of email addresses")
        );
        assert_eq!(
            bad(k, json!("a@b, nope")),
            e("f", "'nope' is not a valid email address")
        );
    }

    #[test]
    fn digits_lower_alnum_codes() {
        let k = Kind::Digits { min: 3, max: 5 };
        ok(k, json!("012"));
        for v in ["12", "123456", "12a", "+123", "١٢٣"] {
            assert_eq!(bad(k, json!(v)), e("f", "must be 3 to 5 digits"), "{v}");
        }
        let k = Kind::LowerAlnum { min: 6, max: 64 };
        ok(k, json!("abc123"));
        for v in ["abc12", "Abc123", "abc-123"] {
            assert_eq!(
                bad(k, json!(v)),
                e("f", "must be 6 to 64 lowercase letters or digits")
            );
        }
        let k = Kind::Code { len: 3 };
        ok(k, json!("USD"));
        for v in ["usd", "US", "USDD", "U5D"] {
            assert_eq!(bad(k, json!(v)), e("f", "must be 3 uppercase letters"));
        }
    }

    #[test]
    fn date_times_are_rfc3339_normalized_to_utc_seconds() {
        assert_eq!(
            ok(Kind::DateTime, json!("2026-12-01T22:30:00.250+01:00")),
            Value::Str("2026-12-01T21:30:00Z".into())
        );
        for v in ["", "2026-12-01", "2026-13-01T00:00:00Z", "tomorrow"] {
            assert_eq!(bad(Kind::DateTime, json!(v)).field, "f", "{v}");
        }
        bad(Kind::DateTime, json!(5));
    }

    #[test]
    fn time_zone_lang_tag_url_quota() {
        for v in [
            "UTC",
            "Asia/Shanghai",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            ok(Kind::TimeZone, json!(v));
        }
        for v in ["", "/UTC", "Asia//X", "Asia/Sh anghai", "1abc"] {
            bad(Kind::TimeZone, json!(v));
        }
        for v in ["en", "en-US", "zh-Hans-CN", "es-419"] {
            ok(Kind::LangTag, json!(v));
        }
        for v in ["", "e", "en_US", "en-", "123", "en-toolongsubtag"] {
            assert_eq!(
                bad(Kind::LangTag, json!(v)),
                e("f", "must be a BCP 47 language tag such as en-US")
            );
        }
        let k = Kind::Url { max: 40 };
        ok(k, json!("https://hooks.example.com/cdr?x=1"));
        ok(k, json!("HTTP://10.0.0.1:8080"));
        for v in [
            "ftp://x",
            "https://",
            "https:///path",
            "https://a b",
            "example.com",
        ] {
            assert_eq!(
                bad(k, json!(v)),
                e("f", "must be an http:// or https:// URL")
            );
        }
        assert_eq!(bad(k, json!("")), e("f", "must not be empty"));
        for v in ["", "1GB", "100MB", "5TB", "1000KB"] {
            ok(Kind::DiskQuota, json!(v));
        }
        for v in [
            "0GB",
            "GB",
            "1 GB",
            "1gb",
            "1.5GB",
            "10",
            "9999999999999999999GB",
        ] {
            bad(Kind::DiskQuota, json!(v));
        }
    }

    #[test]
    fn bool_int_enum() {
        assert_eq!(ok(Kind::Bool, json!(true)), Value::Bool(true));
        assert_eq!(bad(Kind::Bool, json!("true")), e("f", "must be a boolean"));
        let k = Kind::Int {
            min: 0,
            max: 2147483647,
        };
        assert_eq!(ok(k, json!(7)), Value::Int(7));
        for v in [
            json!(-1),
            json!(2147483648u64),
            json!(1.5),
            json!("1"),
            json!(1e3),
        ] {
            assert_eq!(
                bad(k, v),
                e("f", "must be an integer between 0 and 2147483647")
            );
        }
        assert_eq!(
            bad(
                Kind::Int {
                    min: 1,
                    max: i64::MAX
                },
                json!(0)
            ),
            e("f", "must be an integer of at least 1")
        );
        let k = Kind::Enum(&["DISABLE", "ALLOW", "ALLOW_WITH_SENDER_ID"]);
        ok(k, json!("ALLOW"));
        for v in [json!("allow"), json!(1), json!(null)] {
            assert_eq!(
                bad(k, v),
                e("f", "must be one of DISABLE, ALLOW, ALLOW_WITH_SENDER_ID")
            );
        }
    }

    #[test]
    fn json_text_secret_accepted() {
        ok(Kind::JsonText, json!("{\"a\":[1,2]}"));
        ok(Kind::JsonText, json!(""));
        ok(Kind::JsonText, json!("42"));
        for v in ["{", "{\"a\":1} x", "nope"] {
            assert_eq!(
                bad(Kind::JsonText, json!(v)),
                e("f", "must be a valid JSON string")
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        bad(Kind::JsonText, json!(deep));
        assert_eq!(ok(Kind::Secret { max: 0 }, json!("")), Value::Null);
        assert_eq!(
            ok(Kind::Secret { max: 0 }, json!("k")),
            Value::Str("k".into())
        );
        assert_eq!(bad(Kind::Accepted, json!(1)), e("f", "must be a string"));
    }

    #[test]
    fn hhmm_parsing() {
        assert_eq!(parse_hhmm("00:00", false), Some(0));
        assert_eq!(parse_hhmm("23:59", false), Some(1439));
        assert_eq!(parse_hhmm("24:00", true), Some(1440));
        for s in [
            "24:00",
            "24:01",
            "9:00",
            "09:60",
            "0900",
            "09:0a",
            "",
            "09:00:00",
            "０９:00",
        ] {
            assert_eq!(parse_hhmm(s, false), None, "{s}");
        }
        assert_eq!(parse_hhmm("24:01", true), None);
    }

    #[test]
    fn week_hours_normalizes() {
        let v = ok(
            HOURS,
            json!({"mode": "CUSTOM", "monday": {"enabled": true, "ranges": [
                {"from": "09:00", "to": "12:00"}, {"from": "12:00", "to": "24:00"}
            ]}, "tuesday": null}),
        );
        let Value::Map(m) = v else {
            panic!("not a map")
        };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["mode", "monday"]);
    }

    #[test]
    fn week_hours_errors_have_paths() {
        let cases = [
            (json!({"funday": {}}), e("f.funday", "unknown field")),
            (
                json!({"mode": "LOCAL"}),
                e("f.mode", "must be one of GLOBAL, CUSTOM"),
            ),
            (json!({"monday": []}), e("f.monday", "must be an object")),
            (
                json!({"monday": {"open": true}}),
                e("f.monday.open", "unknown field"),
            ),
            (
                json!({"monday": {"enabled": "yes"}}),
                e("f.monday.enabled", "must be a boolean"),
            ),
            (
                json!({"monday": {"ranges": {}}}),
                e("f.monday.ranges", "must be an array"),
            ),
            (
                json!({"friday": {"ranges": [{"from": "09:00", "to": "10:00"}, {"from": "11:00", "to": "25:00"}]}}),
                e("f.friday.ranges[1].to", "must be HH:MM"),
            ),
            (
                json!({"friday": {"ranges": [{"from": "24:00", "to": "24:00"}]}}),
                e("f.friday.ranges[0].from", "must be HH:MM"),
            ),
            (
                json!({"friday": {"ranges": [{"to": "10:00"}]}}),
                e("f.friday.ranges[0].from", "is required"),
            ),
            (
                json!({"friday": {"ranges": [{"from": "10:00", "to": "10:00"}]}}),
                e("f.friday.ranges[0]", "'from' must be earlier than 'to'"),
            ),
            (
                json!({"friday": {"ranges": [{"from": "10:00", "to": "11:00", "x": 1}]}}),
                e("f.friday.ranges[0].x", "unknown field"),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(bad(HOURS, v.clone()), want, "{v}");
        }
        assert_eq!(
            bad(
                Kind::WeekHours { with_mode: false },
                json!({"mode": "GLOBAL"})
            ),
            e("f.mode", "unknown field")
        );
    }

    #[test]
    fn overlapping_ranges_are_rejected() {
        let day = |ranges: Json| json!({"sunday": {"ranges": ranges}});
        assert_eq!(
            bad(
                HOURS,
                day(json!([{"from": "13:00", "to": "17:00"}, {"from": "09:00", "to": "13:30"}]))
            ),
            e("f.sunday.ranges[1]", "must not overlap ranges[0]")
        );
        assert_eq!(
            bad(
                HOURS,
                day(json!([
                    {"from": "08:00", "to": "20:00"},
                    {"from": "09:00", "to": "10:00"},
                    {"from": "21:00", "to": "22:00"}
                ]))
            ),
            e("f.sunday.ranges[1]", "must not overlap ranges[0]")
        );
        assert_eq!(
            bad(
                HOURS,
                day(json!([
                    {"from": "08:00", "to": "20:00"},
                    {"from": "10:00", "to": "11:00"},
                    {"from": "19:00", "to": "21:00"}
                ]))
            ),
            e("f.sunday.ranges[1]", "must not overlap ranges[0]")
        );
        ok(
            HOURS,
            day(json!([{"from": "13:00", "to": "17:00"}, {"from": "09:00", "to": "13:00"}])),
        );
    }

    #[test]
    fn forward_rules() {
        let no_answer = Kind::ForwardRule {
            actions: FORWARD_ACTIONS,
            timeout: true,
        };
        let office = Kind::ForwardRule {
            actions: FORWARD_ACTIONS_WITH_RING,
            timeout: false,
        };
        ok(office, json!({"action": "RING_ANYWAY"}));
        assert_eq!(
            bad(no_answer, json!({"action": "RING_ANYWAY"})),
            e(
                "f.action",
                "must be one of FORWARD_TO_NUMBER, FORWARD_TO_VOICEMAIL, HANGUP"
            )
        );
        assert_eq!(bad(office, json!({})), e("f.action", "is required"));
        assert_eq!(
            bad(office, json!({"action": "FORWARD_TO_NUMBER"})),
            e("f.number", "is required when action is FORWARD_TO_NUMBER")
        );
        assert_eq!(
            bad(office, json!({"action": "FORWARD_TO_NUMBER", "number": ""})),
            e("f.number", "is required when action is FORWARD_TO_NUMBER")
        );
        let msg = "must be digits with an optional leading '+', at most 64 characters";
        for n in ["+", "12a", "++1", "1+2", &"1".repeat(65)] {
            assert_eq!(
                bad(office, json!({"action": "FORWARD_TO_NUMBER", "number": n})),
                e("f.number", msg),
                "{n}"
            );
        }
        assert_eq!(
            ok(office, json!({"action": "HANGUP", "number": ""})),
            Value::Map([("action".to_string(), Value::Str("HANGUP".into()))].into())
        );
        ok(
            office,
            json!({"action": "FORWARD_TO_NUMBER", "number": "+8613800000000"}),
        );
        assert_eq!(
            bad(office, json!({"action": "HANGUP", "timeout": 5})),
            e("f.timeout", "unknown field")
        );
        ok(no_answer, json!({"action": "HANGUP", "timeout": 0}));
        ok(no_answer, json!({"action": "HANGUP", "timeout": 600}));
        assert_eq!(
            bad(no_answer, json!({"action": "HANGUP", "timeout": 601})),
            e("f.timeout", "must be an integer between 0 and 600")
        );
        let v = ok(no_answer, json!({"action": "HANGUP"}));
        assert_eq!(
            to_json(&effective_value(&no_answer, &v)),
            json!({"action": "HANGUP", "number": null, "timeout": 60})
        );
        assert_eq!(
            to_json(&effective_value(
                &office,
                &ok(office, json!({"action": "HANGUP"}))
            )),
            json!({"action": "HANGUP", "number": null})
        );
    }

    #[test]
    fn custom_forward_rules_checks() {
        let k = Kind::CustomForwardRules;
        ok(
            k,
            json!([{"action": "RING_ANYWAY", "type": "ALL_HOURS", "caller_id": "1*"},
                   {"action": "FORWARD_TO_NUMBER", "number": "100", "type": "SPECIFIC_HOURS",
                    "hours": {"monday": {"ranges": [{"from": "08:00", "to": "09:00"}]}}}]),
        );
        assert_eq!(bad(k, json!({})), e("f", "must be an array"));
        assert_eq!(bad(k, json!([1])), e("f[0]", "must be an object"));
        assert_eq!(
            bad(k, json!([{"action": "HANGUP"}])),
            e("f[0].type", "is required")
        );
        assert_eq!(
            bad(
                k,
                json!([{"action": "HANGUP", "type": "OUTSIDE_SPECIFIC_HOURS"}])
            ),
            e(
                "f[0].hours",
                "is required when type is OUTSIDE_SPECIFIC_HOURS"
            )
        );
        assert_eq!(
            bad(
                k,
                json!([{"action": "HANGUP", "type": "SPECIFIC_HOURS",
                        "hours": {"mode": "GLOBAL"}}])
            ),
            e("f[0].hours.mode", "unknown field")
        );
        assert_eq!(
            bad(
                k,
                json!([{"action": "HANGUP", "type": "ALL_HOURS"},
                       {"action": "FORWARD_TO_NUMBER", "type": "ALL_HOURS"}])
            ),
            e(
                "f[1].number",
                "is required when action is FORWARD_TO_NUMBER"
            )
        );
        assert_eq!(
            bad(
                k,
                json!([{"action": "HANGUP", "type": "SPECIFIC_HOURS",
                        "hours": {"monday": {"ranges": [{"from": "08:00", "to": "7:00"}]}}}])
            ),
            e("f[0].hours.monday.ranges[0].to", "must be HH:MM")
        );
    }

    #[test]
    fn mac_addresses_and_string_lists() {
        for mac in ["00:1A:2b:3C:4D:5E", "00-1A-2B-3C-4D-5E", "001A2B3C4D5E"] {
            ok(Kind::Mac, json!(mac));
        }
        for mac in [
            "00:1A:2B:3C:4D",
            "00:1A-2B:3C:4D:5E",
            "001A2B3C4D5G",
            "",
            "0:1A:2B:3C:4D:5E0",
        ] {
            assert_eq!(bad(Kind::Mac, json!(mac)).field, "f", "{mac}");
        }
        let k = Kind::StrList {
            max_items: 2,
            max_len: 3,
        };
        ok(k, json!(["a", "abc"]));
        assert_eq!(
            bad(k, json!(["a", "b", "c"])).message,
            "must have at most 2 items"
        );
        assert_eq!(bad(k, json!(["a", ""])).field, "f[1]");
        assert_eq!(bad(k, json!(["abcd"])).field, "f[0]");
        assert_eq!(bad(k, json!("a")).field, "f");
    }

    #[test]
    fn caller_ids_checks() {
        let k = Kind::CallerIds { preferred: true };
        ok(
            k,
            json!([{"provider_id": "p", "caller_id": "100", "preferred": true, "description": "d"},
                   {"provider_id": "p", "caller_id": "101", "preferred": false}]),
        );
        assert_eq!(
            bad(k, json!([{"caller_id": "1"}])),
            e("f[0].provider_id", "is required")
        );
        assert_eq!(
            bad(k, json!([{"provider_id": "p", "caller_id": ""}])),
            e("f[0].caller_id", "must not be empty")
        );
        assert_eq!(
            bad(
                k,
                json!([{"provider_id": "p", "caller_id": "1".repeat(65)}])
            ),
            e("f[0].caller_id", "must be at most 64 characters")
        );
        assert_eq!(
            bad(
                k,
                json!([{"provider_id": "p", "caller_id": "1", "preferred": true},
                       {"provider_id": "p", "caller_id": "2", "preferred": true}])
            ),
            e("f[1].preferred", "only one caller ID may be preferred")
        );
        assert_eq!(
            bad(
                Kind::CallerIds { preferred: false },
                json!([{"provider_id": "p", "caller_id": "1", "preferred": true}])
            ),
            e("f[0].preferred", "unknown field")
        );
        assert_eq!(
            bad(
                k,
                json!([{"provider_id": "p", "caller_id": "1", "description": "ä".repeat(1025)}])
            ),
            e("f[0].description", "must be at most 1024 characters")
        );
    }

    #[test]
    fn blfs_checks() {
        ok(
            Kind::Blfs,
            json!([{"key": "1", "value": "101", "first_name": "A", "last_name": "B"}, {}]),
        );
        assert_eq!(
            bad(Kind::Blfs, json!([{"key": 1}])),
            e("f[0].key", "must be a string")
        );
        assert_eq!(
            bad(Kind::Blfs, json!([{}, {"label": "x"}])),
            e("f[1].label", "unknown field")
        );
    }

    static SUB: &[Field] = &[
        Field::new("on", Kind::Bool).default(Default::Bool(true)),
        Field::new("req", Kind::Str { min: 1, max: 3 }).required(),
        Field::new("ro", Kind::Str { min: 0, max: 0 }).read_only(),
    ];

    fn needs_on(f: &Fields) -> Result<(), FieldError> {
        if f.get("on") == Some(&Value::Bool(false)) {
            return Err(FieldError::new("on", "must be true"));
        }
        Ok(())
    }

    #[test]
    fn objects() {
        let k = Kind::Object(SUB);
        assert_eq!(
            to_json(&ok(k, json!({"req": "x", "on": null}))),
            json!({"req": "x"})
        );
        assert_eq!(bad(k, json!({})), e("f.req", "is required"));
        assert_eq!(bad(k, json!({"req": null})), e("f.req", "is required"));
        assert_eq!(
            bad(k, json!({"req": "x", "ro": "y"})),
            e("f.ro", "is read-only")
        );
        assert_eq!(
            bad(k, json!({"req": "x", "zz": 1})),
            e("f.zz", "unknown field")
        );
        assert_eq!(bad(k, json!("x")), e("f", "must be an object"));
        let checked = Kind::CheckedObject {
            fields: SUB,
            check: needs_on,
        };
        ok(checked, json!({"req": "x"}));
        assert_eq!(
            bad(checked, json!({"req": "x", "on": false})),
            e("f.on", "must be true")
        );
        let eff = effective_value(&k, &ok(k, json!({"req": "x"})));
        assert_eq!(
            render_value(&k, &eff),
            json!({"on": true, "req": "x", "ro": null})
        );
    }
}
