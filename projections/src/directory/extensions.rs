//! Extensions and user↔extension links in the directory view.

use super::idset::IdSet;
use super::{NumberOwner, Scope, Stamp};
use crate::short::Short;
use switchboard_events::domain::{
    ExtensionCreated, ExtensionDeleted, ExtensionType, ExtensionUpdated, PrimaryExtensionChanged,
    UserLinkedToExtension, UserUnlinkedFromExtension,
};
use switchboard_events::{EnvelopeRef, Id, Value};
use time::OffsetDateTime;

/// An extension.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtensionView {
    /// Id.
    pub id: Id,
    /// Number (unique in the tenant's number space).
    pub number: Short,
    /// Display name.
    pub name: Short,
    /// Kind of endpoint.
    pub ext_type: ExtensionType,
    /// Whether it may register.
    pub enabled: bool,
    /// Users linked to it.
    pub users: IdSet,
    /// The user for whom this is the primary extension.
    pub primary_of: Option<Id>,
    /// Bookkeeping.
    pub stamp: Stamp,
}

/// A user↔extension link: 32 bytes, kept in the links map itself (no
/// shared allocation per link). Its time is unix nanoseconds (as in a
/// [`Stamp`]), read back by [`LinkView::created_at`]; it encodes as an
/// `OffsetDateTime`, as it did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(from = "LinkRepr", into = "LinkRepr")]
pub struct LinkView {
    /// The link's id.
    pub id: Id,
    /// The user.
    pub user_id: Id,
    /// The extension.
    pub extension_id: Id,
    created_at: i64,
}

impl LinkView {
    /// A link made at `created_at`.
    pub fn new(id: Id, user_id: Id, extension_id: Id, created_at: OffsetDateTime) -> LinkView {
        LinkView {
            id,
            user_id,
            extension_id,
            created_at: super::nanos(created_at),
        }
    }

    /// When the link was made.
    pub fn created_at(&self) -> OffsetDateTime {
        super::time_of(self.created_at)
    }
}

/// [`LinkView`] as it is encoded.
#[derive(serde::Serialize, serde::Deserialize)]
struct LinkRepr {
    id: Id,
    user_id: Id,
    extension_id: Id,
    created_at: OffsetDateTime,
}

impl From<LinkRepr> for LinkView {
    fn from(r: LinkRepr) -> LinkView {
        LinkView::new(r.id, r.user_id, r.extension_id, r.created_at)
    }
}

impl From<LinkView> for LinkRepr {
    fn from(l: LinkView) -> LinkRepr {
        LinkRepr {
            id: l.id,
            user_id: l.user_id,
            extension_id: l.extension_id,
            created_at: l.created_at(),
        }
    }
}

pub(super) fn created(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &ExtensionCreated) {
    scope.numbers.insert(
        e.number.as_str().into(),
        NumberOwner::Extension(e.extension_id),
    );
    scope.extensions.insert(
        e.extension_id,
        ExtensionView {
            id: e.extension_id,
            number: e.number.as_str().into(),
            name: e.name.as_str().into(),
            ext_type: e.ext_type,
            enabled: e.enabled,
            users: IdSet::new(),
            primary_of: None,
            stamp: Stamp::new(env),
        },
    );
}

/// Parses the stored name of an extension type.
pub fn parse_ext_type(s: &str) -> Option<ExtensionType> {
    match s {
        "SIP" => Some(ExtensionType::Sip),
        "WEBRTC" => Some(ExtensionType::WebRtc),
        "EXTERNAL" => Some(ExtensionType::External),
        _ => None,
    }
}

/// The stored name of an extension type (inverse of [`parse_ext_type`]).
pub fn ext_type_name(t: ExtensionType) -> &'static str {
    match t {
        ExtensionType::Sip => "SIP",
        ExtensionType::WebRtc => "WEBRTC",
        ExtensionType::External => "EXTERNAL",
    }
}

pub(super) fn updated(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &ExtensionUpdated) {
    let Some(ext) = scope.extensions.get_mut(&e.extension_id) else {
        return;
    };
    for (k, v) in &e.changes {
        match (k.as_str(), v) {
            // A renumbering moves the extension in the shared number space;
            // the old number is released only if this extension held it.
            ("number", Value::Str(s)) => {
                if scope.numbers.get(ext.number.as_str())
                    == Some(NumberOwner::Extension(e.extension_id))
                {
                    scope.numbers.remove(ext.number.as_str());
                }
                scope
                    .numbers
                    .insert(s.as_str().into(), NumberOwner::Extension(e.extension_id));
                ext.number = s.as_str().into();
            }
            ("name", Value::Str(s)) => ext.name = s.as_str().into(),
            ("name", Value::Null) => ext.name = Short::default(),
            ("enabled", Value::Bool(b)) => ext.enabled = *b,
            ("type", Value::Str(s)) => {
                if let Some(t) = parse_ext_type(s) {
                    ext.ext_type = t;
                }
            }
            _ => {}
        }
    }
    ext.stamp.touch(env);
}

pub(super) fn deleted(scope: &mut Scope, e: &ExtensionDeleted) {
    if let Some(ext) = scope.extensions.remove(&e.extension_id) {
        if scope.numbers.get(ext.number.as_str()) == Some(NumberOwner::Extension(e.extension_id)) {
            scope.numbers.remove(ext.number.as_str());
        }
    }
}

pub(super) fn linked(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserLinkedToExtension) {
    scope.links.insert(
        e.link_id,
        LinkView::new(e.link_id, e.user_id, e.extension_id, env.recorded_at),
    );
    if let Some(ext) = scope.extensions.get_mut(&e.extension_id) {
        ext.users.insert(e.user_id);
    }
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.extensions.insert(e.extension_id);
        user.stamp.touch(env);
    }
}

pub(super) fn unlinked(scope: &mut Scope, env: &EnvelopeRef<'_>, e: &UserUnlinkedFromExtension) {
    scope.links.remove(&e.link_id);
    if let Some(ext) = scope.extensions.get_mut(&e.extension_id) {
        ext.users.remove(&e.user_id);
        if ext.primary_of == Some(e.user_id) {
            ext.primary_of = None;
        }
    }
    if let Some(user) = scope.users.get_mut(&e.user_id) {
        user.extensions.remove(&e.extension_id);
        if user.primary_extension == Some(e.extension_id) {
            user.primary_extension = None;
        }
        user.stamp.touch(env);
    }
}

pub(super) fn primary_changed(
    scope: &mut Scope,
    env: &EnvelopeRef<'_>,
    e: &PrimaryExtensionChanged,
) {
    let Some(user) = scope.users.get_mut(&e.user_id) else {
        return;
    };
    let old = user.primary_extension;
    user.primary_extension = e.extension_id;
    user.stamp.touch(env);
    if let Some(old) = old.and_then(|o| scope.extensions.get_mut(&o)) {
        if old.primary_of == Some(e.user_id) {
            old.primary_of = None;
        }
    }
    if let Some(new) = e.extension_id.and_then(|n| scope.extensions.get_mut(&n)) {
        new.primary_of = Some(e.user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_reads_back_its_time_and_encodes_as_it_did() {
        let at = time::macros::datetime!(2026-12-02 07:15:00.123456789 UTC);
        let link = LinkView::new(Id(1), Id(2), Id(3), at);
        assert_eq!(link.created_at(), at);
        let old = LinkRepr {
            id: Id(1),
            user_id: Id(2),
            extension_id: Id(3),
            created_at: at,
        };
        crate::testing::assert_encodes_as(&link, &old);
        assert_eq!(std::mem::size_of::<LinkView>(), 32);
    }
}
