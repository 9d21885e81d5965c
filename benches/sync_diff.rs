//! Sync diff latency: a diff of 10 changes against business-contact
//! collections of 1k, 100k and 1M items. A diff is served from the
//! per-collection change index (offset → item), so it should cost the same
//! whatever the collection's size.
//!
//! The directory is built in memory by `Directory::apply` on synthetic
//! envelopes (no log, no HTTP): N `ContactCreated`, a token at that offset,
//! then 10 changes (6 updates, 2 deletions, 2 favorite flips of the reading
//! user). Two figures per size, each the median (and p99) of
//! `BENCH_ITERS` calls (default 2000):
//! - `index`: `changes::diff`, the ids and change types;
//! - `diff_page`: what the endpoint computes under the read lock (index +
//!   rendering the 10 items as JSON).
//!
//! Run: `cargo bench --bench sync_diff` (`BENCH_SIZES=1000,100000` to pick sizes).

use std::time::Instant;
use switchboard::http::portsip::sync::diff_page;
use switchboard::sync::Collection;
use switchboard_events::domain::{
    ContactCreated, ContactDeleted, ContactOwner, ContactUpdated, FavoriteAdded,
    FavoriteCollection, ItemOwner, UserCreated,
};
use switchboard_events::{Envelope, Event, Fields, Id, Metadata, Value};
use switchboard_projections::directory::changes::{self, DiffRequest};
use switchboard_projections::directory::items::BUSINESS_CONTACTS;
use switchboard_projections::{Directory, Projection};
use time::OffsetDateTime;

const TENANT: Id = Id(7);
const READER: Id = Id(1);

fn apply(dir: &mut Directory, event: Event) {
    let env = Envelope {
        offset: dir.offset + 1,
        stream: event.stream(),
        stream_version: 1,
        tenant: TENANT,
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        recorded_at: OffsetDateTime::UNIX_EPOCH,
        metadata: Metadata::system("bench"),
        payload: Vec::new(),
        prev_hash: [0; 32],
        hash: [0; 32],
    };
    dir.apply(&env, &event);
}

fn contact_id(i: u64) -> Id {
    Id(1_000_000 + i)
}

fn build(n: u64) -> (Directory, u64) {
    let mut dir = Directory::default();
    apply(
        &mut dir,
        Event::UserCreated(UserCreated {
            user_id: READER,
            name: "reader".into(),
            role: "StandardUser".into(),
            password_hash: "x".into(),
            attrs: Fields::new(),
        }),
    );
    for i in 0..n {
        let mut attrs = Fields::new();
        attrs.insert("name".into(), Value::Str(format!("Contact {i}")));
        attrs.insert("business".into(), Value::Str(format!("+49301{i:07}")));
        apply(
            &mut dir,
            Event::ContactCreated(ContactCreated {
                contact_id: contact_id(i),
                owner: ContactOwner::Business,
                attrs,
            }),
        );
    }
    let token = dir.offset;
    let pick = |k: u64| contact_id(k * 7919 % n);
    for k in 0..6 {
        let mut changes = Fields::new();
        changes.insert("title".into(), Value::Str(format!("v{k}")));
        apply(
            &mut dir,
            Event::ContactUpdated(ContactUpdated {
                contact_id: pick(k),
                owner: ContactOwner::Business,
                changes,
            }),
        );
    }
    for k in 6..8 {
        apply(
            &mut dir,
            Event::ContactDeleted(ContactDeleted {
                contact_id: pick(k),
                owner: ContactOwner::Business,
            }),
        );
    }
    for k in 8..10 {
        apply(
            &mut dir,
            Event::FavoriteAdded(FavoriteAdded {
                user_id: READER,
                collection: FavoriteCollection::Business,
                item_id: pick(k),
            }),
        );
    }
    (dir, token)
}

fn stats(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let median = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    (median, p99)
}

fn main() {
    let sizes: Vec<u64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().replace('_', "").parse().expect("a whole number"))
        .collect();
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    println!("| collection size | build (s) | changes | index median (µs) | index p99 (µs) | diff_page median (µs) | diff_page p99 (µs) |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in sizes {
        let started = Instant::now();
        let (dir, token) = build(n);
        let build_secs = started.elapsed().as_secs_f64();
        let req = DiffRequest {
            since: token,
            after: None,
            head: dir.offset,
            top: None,
        };
        let scope = dir.scope(TENANT).expect("tenant");
        let c = &scope.contacts;
        let mut index = Vec::with_capacity(iters);
        let mut found = 0;
        for _ in 0..iters {
            let t = Instant::now();
            let page = changes::diff(
                scope
                    .items
                    .list(BUSINESS_CONTACTS, ItemOwner::Tenant)
                    .map(|l| &l.changes),
                c.changes.business_favorites.get(&READER),
                req,
                |id| {
                    scope
                        .contact(ContactOwner::Business, id)
                        .map(|v| v.stamp.created_offset)
                },
            );
            index.push(t.elapsed().as_secs_f64() * 1e6);
            found = page.changes.len();
        }
        assert_eq!(found, 10, "10 changes since the token");
        let mut full = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            let (_, items) = diff_page(&dir, TENANT, READER, Collection::BusinessContacts, req);
            full.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(items.len(), 10);
        }
        let (im, ip) = stats(index);
        let (fm, fp) = stats(full);
        println!("| {n} | {build_secs:.1} | {found} | {im:.2} | {ip:.2} | {fm:.2} | {fp:.2} |");
    }
}
