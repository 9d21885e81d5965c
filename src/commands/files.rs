//! Files and greetings: the metadata side of the file store.
//!
//! A file is an item of the tenant's `files` collection (recorded with the
//! `Item*` events, so history, audit, `as_of`, replay and snapshots cover
//! it): its name, size, media type, the digest of its bytes (the blob in
//! [`crate::files::Store`]), whether it is temporary, and who uploaded it.
//! A greeting is an item of its user's `greetings` collection referring to
//! a file by id, with an `enabled` flag: enabling one disables the user's
//! others, as PortSIP does.
//!
//! **Visibility.** A file is seen by its uploader and by callers who manage
//! what references files (`ManageUsers`: greetings; `ManageQueues`:
//! prompts); to anyone else of the tenant it is missing (404), as is
//! another tenant's file, whatever bytes it has.
//!
//! **Collection.** A file something references cannot be deleted
//! (`FILE_IN_USE`). A temporary file goes as soon as nothing references it:
//! deleting the last greeting that used it deletes it in the same append,
//! and [`FileCommand::Collect`] removes those that were never referenced
//! past their grace period. The blobs themselves are deleted by the store's
//! sweep once no file of any tenant names their digest.

use super::{Actor, CommandError, ConflictKind, Decision, NewId, Thing};
use crate::auth::roles::Capability;
use crate::field_tables::{Kind, Table};
use crate::files::Digest;
use switchboard_events::domain::{ItemCreated, ItemDeleted, ItemOwner, ItemUpdated};
use switchboard_events::{Attrs, Event, Expected, FieldSet, Fields, Id, StreamId, Value, ValueRef};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;

/// The tenant's files.
pub const FILES: &str = "files";
/// Each user's greetings.
pub const GREETINGS: &str = "greetings";
/// Greetings one user may keep.
pub const MAX_GREETINGS: usize = 32;
/// The fields of another object that name a file: the call queues' and
/// ring groups' prompts.
pub const PROMPT_FIELDS: &[&str] = &["moh_prompt_file_id", "intro_prompt_file_id"];

/// A file command.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCommand {
    /// Record a stored blob as one of the tenant's files (completing an
    /// upload). Recording the same file again is a no-op, so a completion
    /// retried after a lost answer or a crash gives the same file.
    Create(NewFile),
    /// Delete a file nothing references.
    Delete {
        /// The file.
        file_id: Id,
    },
    /// Delete the temporary files nothing references that were recorded
    /// before `before` (Unix seconds).
    Collect {
        /// The cutoff.
        before: i64,
    },
}

/// A new file.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFile {
    /// Its id (minted when the upload began).
    pub file_id: Id,
    /// Its name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (read from the bytes).
    pub media_type: String,
    /// The digest of its bytes.
    pub digest: Digest,
    /// Collected once nothing references it.
    pub temporary: bool,
    /// Who uploaded it.
    pub uploaded_by: Id,
}

/// A greeting command (on `user_id`'s greetings).
#[derive(Debug, Clone, PartialEq)]
pub enum GreetingCommand {
    /// Add a greeting playing a file (disabled).
    Create {
        /// The greeting's id.
        greeting_id: NewId,
        /// Whose.
        user_id: Id,
        /// The file it plays.
        file_id: Id,
    },
    /// Enable (disabling the user's others) or disable a greeting.
    SetEnabled {
        /// Whose.
        user_id: Id,
        /// Which.
        greeting_id: Id,
        /// On or off.
        enabled: bool,
    },
    /// Delete a greeting (and its file, if temporary and now unreferenced).
    Delete {
        /// Whose.
        user_id: Id,
        /// Which.
        greeting_id: Id,
    },
}

/// A file as the commands and queries read it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileView<'a> {
    /// The item.
    pub item: &'a ItemView,
    /// Its name.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: &'a str,
    /// The blob's digest (hex).
    pub digest: &'a str,
    /// Temporary?
    pub temporary: bool,
    /// The uploader.
    pub uploaded_by: Id,
}

/// A text field of an item's attributes (`""` when absent).
pub(crate) fn str_of<'a>(f: &'a (impl FieldSet + ?Sized), k: &str) -> &'a str {
    f.get(k).and_then(|v| v.as_str()).unwrap_or("")
}

/// An integer field of an item's attributes (0 when absent).
pub(crate) fn int_of(f: &(impl FieldSet + ?Sized), k: &str) -> i64 {
    match f.get(k) {
        Some(ValueRef::Int(n)) => n,
        _ => 0,
    }
}

fn bool_of(f: &(impl FieldSet + ?Sized), k: &str) -> bool {
    matches!(f.get(k), Some(ValueRef::Bool(true)))
}

/// Reads a file item.
pub fn view(item: &ItemView) -> FileView<'_> {
    FileView {
        item,
        name: str_of(&item.attrs, "name"),
        size: u64::try_from(int_of(&item.attrs, "size")).unwrap_or(0),
        media_type: str_of(&item.attrs, "media_type"),
        digest: str_of(&item.attrs, "digest"),
        temporary: bool_of(&item.attrs, "temporary"),
        uploaded_by: Id(u64::try_from(int_of(&item.attrs, "uploaded_by")).unwrap_or(0)),
    }
}

/// Whether `actor` sees every file of the tenant (not only its own uploads).
pub fn sees_all(actor: &Actor) -> bool {
    actor.authority.allows(Capability::ManageUsers)
        || actor.authority.allows(Capability::ManageQueues)
}

/// The file `id` as `actor` may see it (404 otherwise).
pub fn file<'a>(s: &'a Scope, actor: &Actor, id: Id) -> Result<FileView<'a>, CommandError> {
    s.items
        .get(FILES, ItemOwner::Tenant, id)
        .map(view)
        .filter(|f| sees_all(actor) || f.uploaded_by == actor.user_id)
        .ok_or(CommandError::NotFound(Thing::Item("file")))
}

/// The files `actor` may see, by id.
pub fn files<'a>(s: &'a Scope, actor: &'a Actor) -> impl Iterator<Item = FileView<'a>> + 'a {
    s.items
        .items(FILES, ItemOwner::Tenant)
        .map(view)
        .filter(move |f| sees_all(actor) || f.uploaded_by == actor.user_id)
}

/// Decides the file references among `attrs`, the validated fields of a
/// resource of `table` (its [`Kind::FileRef`] fields, like a call queue's
/// prompts): each names an audio file of the tenant that `actor` may use,
/// else 400 naming the field. `null` (clearing a prompt) is always fine.
pub fn check_file_refs(
    s: &Scope,
    actor: &Actor,
    table: &Table,
    attrs: &Fields,
) -> Result<(), CommandError> {
    for f in table
        .fields
        .iter()
        .filter(|f| matches!(f.kind, Kind::FileRef))
    {
        let Some(Value::Int(n)) = attrs.get(f.name) else {
            continue;
        };
        let refused = |why: String| CommandError::invalid(f.name, why);
        let id = Id(u64::try_from(*n).unwrap_or(0));
        let file = file(s, actor, id)
            .map_err(|_| refused("is not a file of this tenant you may use".into()))?;
        if !file.media_type.starts_with("audio/") {
            return Err(refused(format!(
                "a prompt plays audio, not {}",
                file.media_type
            )));
        }
    }
    Ok(())
}

/// What references file `id` in the tenant, named for an error message.
pub fn referenced_by(s: &Scope, id: Id) -> Option<String> {
    let wanted = Value::Int(id.0 as i64);
    for (user, list) in s
        .items
        .collections
        .get(GREETINGS)
        .into_iter()
        .flat_map(|l| l.users.iter())
    {
        if list
            .items
            .values()
            .any(|g| g.attrs.get("file_id") == Some(wanted.view()))
        {
            return Some(format!("a greeting of user {}", crate::ids::render(*user)));
        }
    }
    let prompts = |attrs: &Attrs| {
        PROMPT_FIELDS
            .iter()
            .any(|f| attrs.get(f) == Some(wanted.view()))
    };
    if let Some(q) = s.call_queues.values().find(|q| prompts(&q.attrs)) {
        return Some(format!("call queue {}", q.name));
    }
    if let Some(g) = s.ring_groups.values().find(|g| prompts(&g.attrs)) {
        return Some(format!("ring group {}", g.name));
    }
    None
}

fn stream(id: Id) -> StreamId {
    StreamId::of("item", id)
}

fn delete_item(collection: &str, owner: ItemOwner, item: &ItemView) -> Decision {
    Decision::events(vec![Event::ItemDeleted(ItemDeleted {
        item_id: item.id,
        collection: collection.into(),
        owner,
    })])
    .expect(stream(item.id), Expected::Exactly(item.stamp.version))
}

/// Decides a file command.
pub fn decide_file(
    s: &Scope,
    actor: &Actor,
    c: &FileCommand,
) -> Result<(Decision, Option<Id>), CommandError> {
    match c {
        FileCommand::Create(f) => {
            if let Some(existing) = s.items.get(FILES, ItemOwner::Tenant, f.file_id) {
                // The same completion again: nothing to record.
                if view(existing).digest == f.digest.hex() {
                    return Ok((Decision::none(), Some(f.file_id)));
                }
                return Err(CommandError::conflict(
                    ConflictKind::AlreadyExists,
                    "a file with this id exists",
                ));
            }
            if s.items.is_taken(f.file_id) {
                return Err(CommandError::conflict(
                    ConflictKind::AlreadyExists,
                    "the id is taken; begin a new upload",
                ));
            }
            let mut attrs = Fields::new();
            attrs.insert("name".into(), Value::from(f.name.as_str()));
            attrs.insert(
                "size".into(),
                Value::Int(i64::try_from(f.size).unwrap_or(i64::MAX)),
            );
            attrs.insert("media_type".into(), Value::from(f.media_type.as_str()));
            attrs.insert("digest".into(), Value::from(f.digest.hex().as_str()));
            attrs.insert("temporary".into(), Value::Bool(f.temporary));
            attrs.insert("uploaded_by".into(), Value::Int(f.uploaded_by.0 as i64));
            let d = Decision::events(vec![Event::ItemCreated(ItemCreated {
                item_id: f.file_id,
                collection: FILES.into(),
                owner: ItemOwner::Tenant,
                attrs,
            })])
            .expect(stream(f.file_id), Expected::NoStream);
            Ok((d, Some(f.file_id)))
        }
        FileCommand::Delete { file_id } => {
            let f = file(s, actor, *file_id)?;
            if let Some(by) = referenced_by(s, *file_id) {
                return Err(CommandError::conflict(
                    ConflictKind::FileInUse,
                    format!("the file is used by {by}"),
                ));
            }
            Ok((delete_item(FILES, ItemOwner::Tenant, f.item), None))
        }
        FileCommand::Collect { before } => {
            let parts = s
                .items
                .items(FILES, ItemOwner::Tenant)
                .map(view)
                .filter(|f| {
                    f.temporary
                        && f.item.stamp.created_at().unix_timestamp() < *before
                        && referenced_by(s, f.item.id).is_none()
                })
                .map(|f| delete_item(FILES, ItemOwner::Tenant, f.item));
            Ok((Decision::merge_all(parts)?, None))
        }
    }
}

fn greeting(s: &Scope, user: Id, id: Id) -> Result<&ItemView, CommandError> {
    s.items
        .get(GREETINGS, ItemOwner::User(user), id)
        .ok_or(CommandError::NotFound(Thing::Item("greeting")))
}

fn set_enabled(user: Id, g: &ItemView, enabled: bool) -> Decision {
    let mut changes = Fields::new();
    changes.insert("enabled".into(), Value::Bool(enabled));
    Decision::events(vec![Event::ItemUpdated(ItemUpdated {
        item_id: g.id,
        collection: GREETINGS.into(),
        owner: ItemOwner::User(user),
        changes,
    })])
    .expect(stream(g.id), Expected::Exactly(g.stamp.version))
}

/// Decides a greeting command.
pub fn decide_greeting(
    s: &Scope,
    actor: &Actor,
    c: &GreetingCommand,
) -> Result<(Decision, Option<Id>), CommandError> {
    let user = match c {
        GreetingCommand::Create { user_id, .. }
        | GreetingCommand::SetEnabled { user_id, .. }
        | GreetingCommand::Delete { user_id, .. } => *user_id,
    };
    if !s.users.contains_key(&user) {
        return Err(CommandError::NotFound(Thing::User));
    }
    actor.must_be_or_hold(
        user,
        Capability::ManageUsers,
        "only the user or an administrator may change its greetings",
    )?;
    let owner = ItemOwner::User(user);
    match c {
        GreetingCommand::Create {
            greeting_id,
            file_id,
            ..
        } => {
            let id = greeting_id.get()?;
            let f = file(s, actor, *file_id).map_err(|_| {
                CommandError::invalid("file_id", "is not a file of this tenant you may use")
            })?;
            if !f.media_type.starts_with("audio/") {
                return Err(CommandError::invalid(
                    "file_id",
                    format!("a greeting plays audio, not {}", f.media_type),
                ));
            }
            if s.items.count(GREETINGS, owner) >= MAX_GREETINGS {
                return Err(CommandError::conflict(
                    ConflictKind::ListFull,
                    format!("a user keeps at most {MAX_GREETINGS} greetings"),
                ));
            }
            let mut attrs = Fields::new();
            attrs.insert("file_id".into(), Value::Int(file_id.0 as i64));
            attrs.insert("enabled".into(), Value::Bool(false));
            let d = Decision::events(vec![Event::ItemCreated(ItemCreated {
                item_id: id,
                collection: GREETINGS.into(),
                owner,
                attrs,
            })])
            .expect(stream(id), Expected::NoStream);
            Ok((d, Some(id)))
        }
        GreetingCommand::SetEnabled {
            greeting_id,
            enabled,
            ..
        } => {
            let g = greeting(s, user, *greeting_id)?;
            let mut parts = Vec::new();
            if bool_of(&g.attrs, "enabled") != *enabled {
                parts.push(set_enabled(user, g, *enabled));
            }
            if *enabled {
                // One enabled greeting at a time.
                parts.extend(
                    s.items
                        .items(GREETINGS, owner)
                        .filter(|o| o.id != g.id && bool_of(&o.attrs, "enabled"))
                        .map(|o| set_enabled(user, o, false)),
                );
            }
            Ok((Decision::merge_all(parts)?, None))
        }
        GreetingCommand::Delete { greeting_id, .. } => {
            let g = greeting(s, user, *greeting_id)?;
            let mut d = delete_item(GREETINGS, owner, g);
            // A temporary file goes with its last reference.
            let file_id = Id(u64::try_from(int_of(&g.attrs, "file_id")).unwrap_or(0));
            if let Some(f) = s.items.get(FILES, ItemOwner::Tenant, file_id).map(view) {
                let others = s
                    .items
                    .collections
                    .get(GREETINGS)
                    .into_iter()
                    .flat_map(|l| l.users.values())
                    .flat_map(|l| l.items.values())
                    .any(|o| o.id != g.id && o.attrs.get("file_id") == g.attrs.get("file_id"));
                if f.temporary && !others && !prompt_uses(s, file_id) {
                    d = d.merge(delete_item(FILES, ItemOwner::Tenant, f.item))?;
                }
            }
            Ok((d, None))
        }
    }
}

fn prompt_uses(s: &Scope, id: Id) -> bool {
    let wanted = Value::Int(id.0 as i64);
    let prompts = |attrs: &Attrs| {
        PROMPT_FIELDS
            .iter()
            .any(|f| attrs.get(f) == Some(wanted.view()))
    };
    s.call_queues.values().any(|q| prompts(&q.attrs))
        || s.ring_groups.values().any(|g| prompts(&g.attrs))
}
