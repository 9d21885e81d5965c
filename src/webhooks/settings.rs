//! A tenant's webhook subscriptions, folded from its own stream
//! (`tenant-{id}`: created, updated, deleted). Pure, so the deliverer can
//! recompute them from the log at any time and tests read as given/when/then.
//!
//! A subscription is on when its object (`extension_event` or `cdr_event`)
//! has `enabled: true` and a `url`. `since` is the offset of the event that
//! last turned it on: delivery covers the matching events recorded after
//! it, so switching a subscription off and on again does not replay what
//! happened while it was off, and the start point is a fact in the log (a
//! crash between enabling and the first delivery loses nothing).

use switchboard_events::{Event, Fields, Value};

/// Which of the tenant's two webhook settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `extension_event`: extension changes and user↔extension links.
    ExtensionEvent,
    /// `cdr_event`: call detail records (switchboard records none yet).
    CdrEvent,
}

impl Kind {
    /// Both kinds.
    pub const ALL: [Kind; 2] = [Kind::ExtensionEvent, Kind::CdrEvent];

    /// The tenant setting's (and the route's) name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ExtensionEvent => "extension_event",
            Kind::CdrEvent => "cdr_event",
        }
    }

    /// Parses a route segment.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// How switchboard authenticates to the receiver.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    None,
    /// HTTP Basic.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// HTTP Digest (RFC 7616): answered after the receiver's 401 challenge.
    Digest {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Credentials never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Basic { .. } => "Basic(..)",
            Auth::Digest { .. } => "Digest(..)",
            Auth::Bearer(_) => "Bearer(..)",
        })
    }
}

/// Where and how to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The receiver's URL.
    pub url: String,
    /// How to authenticate.
    pub auth: Auth,
}

/// One subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// `None` while the subscription is off.
    pub target: Option<Target>,
    /// Offset of the event that last turned it on (0 if never on).
    pub since: u64,
}

/// Both subscriptions of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantHooks {
    /// `extension_event`.
    pub extension_event: Subscription,
    /// `cdr_event`.
    pub cdr_event: Subscription,
}

impl TenantHooks {
    /// The subscription of `kind`.
    pub fn get(&self, kind: Kind) -> &Subscription {
        match kind {
            Kind::ExtensionEvent => &self.extension_event,
            Kind::CdrEvent => &self.cdr_event,
        }
    }

    fn get_mut(&mut self, kind: Kind) -> &mut Subscription {
        match kind {
            Kind::ExtensionEvent => &mut self.extension_event,
            Kind::CdrEvent => &mut self.cdr_event,
        }
    }
}

/// Folds a tenant stream's events (with their offsets) into its
/// subscriptions; `None` if the tenant does not exist (never created, or
/// deleted).
pub fn fold(events: impl IntoIterator<Item = (u64, Event)>) -> Option<TenantHooks> {
    let mut hooks: Option<TenantHooks> = None;
    for (offset, event) in events {
        let changed: Option<&Fields> = match &event {
            Event::TenantCreated(e) => {
                hooks = Some(TenantHooks::default());
                Some(&e.attrs)
            }
            Event::TenantUpdated(e) => Some(&e.changes),
            Event::TenantDeleted(_) => {
                hooks = None;
                None
            }
            _ => None,
        };
        let (Some(h), Some(fields)) = (hooks.as_mut(), changed) else {
            continue;
        };
        for kind in Kind::ALL {
            // Objects are replaced whole on update; `null` resets to off.
            let Some(value) = fields.get(kind.name()) else {
                continue;
            };
            let sub = h.get_mut(kind);
            let was_on = sub.target.is_some();
            sub.target = target(value);
            if !was_on && sub.target.is_some() {
                sub.since = offset;
            }
        }
    }
    hooks
}

/// The target of a webhook object, if it is enabled with a URL.
pub fn target(v: &Value) -> Option<Target> {
    let Value::Map(m) = v else {
        return None;
    };
    let text = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if m.get("enabled").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let url = text("url")?;
    let credentials = || {
        (
            text("username").unwrap_or_default(),
            text("password").unwrap_or_default(),
        )
    };
    let auth = match text("auth").as_deref() {
        Some("BASIC") => {
            let (username, password) = credentials();
            Auth::Basic { username, password }
        }
        Some("DIGEST") => {
            let (username, password) = credentials();
            Auth::Digest { username, password }
        }
        Some("BEARER") => Auth::Bearer(text("token").unwrap_or_default()),
        _ => Auth::None,
    };
    Some(Target { url, auth })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use switchboard_events::domain::{TenantCreated, TenantDeleted, TenantUpdated};
    use switchboard_events::Id;

    fn hook(enabled: bool, url: &str, auth: &str) -> Value {
        let mut m = BTreeMap::new();
        m.insert("enabled".to_owned(), Value::Bool(enabled));
        m.insert("url".to_owned(), Value::Str(url.to_owned()));
        m.insert("auth".to_owned(), Value::Str(auth.to_owned()));
        m.insert("username".to_owned(), Value::Str("hookuser".to_owned()));
        m.insert("password".to_owned(), Value::Str("hookpass".to_owned()));
        m.insert("token".to_owned(), Value::Str("t0k3n".to_owned()));
        Value::Map(m)
    }

    fn created(attrs: &[(&str, Value)]) -> Event {
        Event::TenantCreated(TenantCreated {
            tenant_id: Id(5),
            name: "Acme".into(),
            domain: "acme.example".into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        })
    }

    fn updated(changes: &[(&str, Value)]) -> Event {
        Event::TenantUpdated(TenantUpdated {
            tenant_id: Id(5),
            changes: changes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        })
    }

    #[test]
    fn given_no_tenant_then_no_subscriptions() {
        assert_eq!(fold([]), None);
        let deleted = Event::TenantDeleted(TenantDeleted { tenant_id: Id(5) });
        assert_eq!(fold([(1, created(&[])), (9, deleted)]), None);
    }

    #[test]
    fn given_a_tenant_created_with_a_hook_then_it_is_on_since_creation() {
        let h = fold([(
            3,
            created(&[(
                "extension_event",
                hook(true, "https://r.example/x", "BEARER"),
            )]),
        )])
        .expect("tenant");
        assert_eq!(h.extension_event.since, 3);
        let t = h.extension_event.target.expect("on");
        assert_eq!(t.url, "https://r.example/x");
        assert_eq!(t.auth, Auth::Bearer("t0k3n".into()));
        assert_eq!(h.cdr_event, Subscription::default(), "untouched stays off");
    }

    #[test]
    fn given_an_enabled_hook_when_the_url_changes_then_since_stays_and_when_re_enabled_it_moves() {
        let events = vec![
            (1, created(&[])),
            (
                4,
                updated(&[(
                    "extension_event",
                    hook(true, "https://a.example", "DISABLE"),
                )]),
            ),
            (
                6,
                updated(&[("extension_event", hook(true, "https://b.example", "BASIC"))]),
            ),
        ];
        let h = fold(events.clone()).expect("tenant");
        assert_eq!(
            h.extension_event.since, 4,
            "a URL change keeps the cursor's start"
        );
        let t = h.extension_event.target.expect("on");
        assert_eq!(t.url, "https://b.example");
        assert_eq!(
            t.auth,
            Auth::Basic {
                username: "hookuser".into(),
                password: "hookpass".into()
            }
        );
        let mut more = events;
        more.push((
            8,
            updated(&[("extension_event", hook(false, "https://b.example", "BASIC"))]),
        ));
        let h = fold(more.clone()).expect("tenant");
        assert_eq!(h.extension_event.target, None, "disabled");
        more.push((9, updated(&[("name", Value::Str("Acme 2".into()))])));
        more.push((
            12,
            updated(&[("extension_event", hook(true, "https://b.example", "DIGEST"))]),
        ));
        let h = fold(more.clone()).expect("tenant");
        assert_eq!(h.extension_event.since, 12, "re-enabling starts afresh");
        more.push((13, updated(&[("extension_event", Value::Null)])));
        assert_eq!(
            fold(more).expect("tenant").extension_event.target,
            None,
            "null resets"
        );
    }

    #[test]
    fn enabled_without_a_url_is_off() {
        let h = fold([(2, created(&[("cdr_event", hook(true, "", "DISABLE"))]))]).expect("tenant");
        assert_eq!(h.cdr_event.target, None);
        assert_eq!(format!("{:?}", Auth::Bearer("secret".into())), "Bearer(..)");
    }
}
