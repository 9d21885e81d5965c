//! Projection memory per user, measured by the allocator: a counting
//! `#[global_allocator]` reports the bytes live after building one tenant of
//! N users (typical PortSIP fields, an extension each, linked and primary),
//! so the figure is what the read model really holds, not an RSS guess.
//!
//! Three builds per size: the directory alone, the read model (directory +
//! list indexes), and business contacts (the phonebook). Figures in
//! BENCHMARKS.md ("Read side at scale: memory").
//!
//! Ids are sequential by default (as in the earlier figures); the service
//! mints random ids below 2^53, and `BENCH_IDS=random` uses such ids. The
//! persistent B-trees split full nodes in half, so keys inserted in order
//! leave every leaf half full, random ones about 70% full: random ids are
//! the realistic figure and cost less.
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/bench-read cargo bench --bench read_memory
//! BENCH_USERS=1000,100000 BENCH_IDS=random BENCH_BREAKDOWN=1 ...
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use switchboard::queries::ReadModel;
use switchboard_events::domain::*;
use switchboard_events::{Envelope, Event, Fields, Id, Metadata, Value};
use switchboard_projections::{Directory, Projection};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const T: Id = Id(9);
const DEPARTMENTS: &[&str] = &["Ops", "Sales", "Support", "R&D", "Finance", "Legal"];
/// An argon2id PHC string of the usual length (the projection keeps hashes).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$3Vq0oO0bq6gH0v6lQ5cW0t7j0G8n3aXr1Zl8J5wqkYc";

fn env(offset: u64, e: &Event) -> Envelope {
    Envelope {
        offset,
        stream: e.stream(),
        stream_version: 1,
        tenant: T,
        event_type: e.event_type().into(),
        schema_version: e.schema_version(),
        recorded_at: time::OffsetDateTime::UNIX_EPOCH
            + time::Duration::seconds(offset as i64 / 100),
        metadata: Metadata::system("bench"),
        payload: vec![],
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// The `i`th id of a kind (0 users, 1 extensions, 2 links, 3 contacts):
/// sequential, or with `BENCH_IDS=random` spread below 2^53 as minted ids
/// are (splitmix64 of the kind and number: distinct, non-zero).
fn id(kind: u64, i: u64) -> Id {
    static RANDOM: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var("BENCH_IDS").is_ok_and(|v| v == "random"));
    if !*RANDOM {
        return Id((kind + 1) * 1_000_000 + i);
    }
    let mut z = (kind << 40 | i).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Id((z >> 11).max(1))
}

/// The events of `n` users with typical fields, each with a primary extension.
fn user_events(n: u64) -> Vec<Event> {
    let mut out = Vec::with_capacity(n as usize * 6);
    for i in 1..=n {
        let (user_id, extension_id) = (id(0, i), id(1, i));
        let mut a = Fields::new();
        let s = |v: String| Value::Str(v);
        a.insert("email".into(), s(format!("user{i}@example.com")));
        a.insert("display_name".into(), s(format!("User Number {i}")));
        a.insert("mobile_phone".into(), s(format!("+4915{i:08}")));
        a.insert("work_phone".into(), s(format!("+4930{i:08}")));
        a.insert(
            "department".into(),
            s(DEPARTMENTS[i as usize % DEPARTMENTS.len()].into()),
        );
        a.insert("address".into(), s(format!("{} Example Street", i % 500)));
        a.insert("enable_dnd".into(), Value::Bool(i % 7 == 0));
        out.push(Event::UserCreated(UserCreated {
            user_id,
            name: format!("user{i}"),
            role: "StandardUser".into(),
            password_hash: HASH.into(),
            attrs: a,
        }));
        for secret in [SecretKind::ExtensionPassword, SecretKind::VoicemailPin] {
            out.push(Event::UserSecretChanged(UserSecretChanged {
                user_id,
                secret,
                hash: HASH.into(),
            }));
        }
        out.push(Event::ExtensionCreated(ExtensionCreated {
            extension_id,
            number: format!("{}", 100_000 + i),
            name: String::new(),
            ext_type: ExtensionType::Sip,
            enabled: true,
        }));
        out.push(Event::UserLinkedToExtension(UserLinkedToExtension {
            link_id: id(2, i),
            user_id,
            extension_id,
        }));
        out.push(Event::PrimaryExtensionChanged(PrimaryExtensionChanged {
            user_id,
            extension_id: Some(extension_id),
        }));
    }
    out
}

fn contact_events(n: u64) -> Vec<Event> {
    (1..=n)
        .map(|i| {
            let mut a = Fields::new();
            a.insert("name".into(), Value::Str(format!("Contact {i}")));
            a.insert("company".into(), Value::Str(format!("Company {}", i % 300)));
            a.insert("email".into(), Value::Str(format!("c{i}@example.org")));
            a.insert("mobile_phone".into(), Value::Str(format!("+4917{i:08}")));
            Event::ContactCreated(ContactCreated {
                contact_id: id(3, i),
                owner: ContactOwner::Business,
                attrs: a,
            })
        })
        .collect()
}

/// Live bytes after applying `events` to a fresh `P` (the events themselves
/// are dropped first), and the model (kept alive while measuring).
fn measure<P: Projection + Default>(events: Vec<Event>, wrap: impl FnOnce(P) -> P) -> (isize, P) {
    let envs: Vec<Envelope> = events
        .iter()
        .enumerate()
        .map(|(i, e)| env(i as u64 + 1, e))
        .collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut model = wrap(P::default());
    for (e, v) in envs.iter().zip(&events) {
        model.apply(e, v);
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    drop(envs);
    drop(events);
    (held, model)
}

/// Bytes freed by dropping what `slot` holds (it is left at its default).
fn freed<T: Default>(slot: &mut T) -> isize {
    let before = LIVE.load(Ordering::Relaxed);
    drop(std::mem::take(slot));
    before - LIVE.load(Ordering::Relaxed)
}

/// Where the directory's bytes per user go (`BENCH_BREAKDOWN=1`): each part
/// is dropped in turn and the bytes it freed are reported. The user rows'
/// own parts (fields, hashes) are dropped first, then each collection.
fn breakdown(mut d: Directory, n: u64) {
    let per = |b: isize| b as f64 / n as f64;
    let mut rows: Vec<(&str, isize)> = Vec::new();
    let Some(scope) = d.scopes.get_mut(&T) else {
        return;
    };
    let ids: Vec<Id> = scope.users.keys().copied().collect();
    let (mut attrs, mut hashes) = (0, 0);
    for id in &ids {
        if let Some(u) = scope.users.get_mut(id) {
            attrs += freed(&mut u.attrs);
            hashes += freed(&mut u.secrets);
        }
    }
    rows.push(("user fields (attrs)", attrs));
    rows.push(("user secret hashes", hashes));
    rows.push((
        "users (the rest of the rows, the map)",
        freed(&mut scope.users),
    ));
    rows.push(("users_by_name", freed(&mut scope.users_by_name)));
    rows.push(("numbers", freed(&mut scope.numbers)));
    rows.push(("extensions", freed(&mut scope.extensions)));
    rows.push(("links", freed(&mut scope.links)));
    rows.push((
        "contacts (favorites, change index)",
        freed(&mut scope.contacts),
    ));
    rows.push(("items", freed(&mut scope.items)));
    rows.push(("presence", freed(&mut scope.presence)));
    let rest = freed(&mut d);
    rows.push(("everything else", rest));
    println!("\n| directory part ({n} users) | bytes/user |\n|---|---:|");
    for (name, bytes) in rows {
        println!("| {name} | {:.0} |", per(bytes));
    }
}

fn main() {
    let sizes: Vec<u64> = std::env::var("BENCH_USERS")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| s.trim().replace('_', "").parse().expect("whole numbers"))
        .collect();
    println!("| items | directory bytes/user | read model (with list indexes) bytes/user | list indexes bytes/user | business contact bytes/contact |");
    println!("|---:|---:|---:|---:|---:|");
    let mut breakdowns = Vec::new();
    for n in sizes {
        let (dir, d) = measure::<Directory>(user_events(n), |d| d);
        if std::env::var_os("BENCH_BREAKDOWN").is_some() {
            breakdowns.push((d, n));
        } else {
            drop(d);
        }
        let (model, m) = measure::<ReadModel>(user_events(n), |m| m);
        drop(m);
        let (contacts, c) = measure::<Directory>(contact_events(n), |d| d);
        drop(c);
        let per = |b: isize| b as f64 / n as f64;
        println!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.0} |",
            per(dir),
            per(model),
            per(model - dir),
            per(contacts)
        );
    }
    for (d, n) in breakdowns {
        breakdown(d, n);
    }
}
