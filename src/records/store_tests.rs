//! Given/when/then tests of the call history store, and a model test that
//! compares every page with the query engine's reference path over the
//! rendered records.

use super::store::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use switchboard_events::Id;
use switchboard_projections::query::{Dir, FieldType, ListQuery, ListSchema, RawListParams};

const SCHEMA: ListSchema = ListSchema {
    fields: &[
        ("started_at", FieldType::DateTime),
        ("caller", FieldType::String),
        ("callee", FieldType::String),
        ("duration", FieldType::Number),
    ],
    search: &["caller", "callee"],
    default_order: &[("started_at", Dir::Desc)],
};

const T: Id = Id(7);
const OTHER: Id = Id(8);
const ALICE: Id = Id(100);
const BOB: Id = Id(101);
const BASE_MS: i64 = 1_700_000_000_000;

fn open() -> (tempfile::TempDir, RecordStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        RecordStore::open(&dir.path().join("records.redb"), StoreConfig::default()).expect("open");
    (dir, store)
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("in range");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn cdr(tenant: Id, n: u64, at_ms: i64, parties: &[Id]) -> NewRecord {
    let body = json!({
        "call_id": format!("call-{n}"),
        "caller": format!("{}", 100 + n % 7),
        "callee": format!("{}", 200 + n % 5),
        "started_at": rfc3339(at_ms),
        "duration": n % 60,
    });
    NewRecord {
        kind: Kind::Cdr,
        tenant,
        id: Id(1000 + n),
        key: format!("call-{n}"),
        at_ms,
        parties: parties.to_vec(),
        offset: n,
        body: serde_json::to_vec(&body).expect("json"),
    }
}

fn query(pairs: &[(&str, &str)]) -> ListQuery {
    let mut raw = RawListParams::default();
    for &(k, v) in pairs {
        let v = Some(v.to_string());
        match k {
            "filter" => raw.filter = v,
            "search" => raw.search = v,
            "orderby" => raw.orderby = v,
            "skip" => raw.skip = v,
            "top" => raw.top = v,
            other => panic!("unknown param {other}"),
        }
    }
    ListQuery::parse(&raw, &SCHEMA).expect("query parses")
}

fn ids(page: &RecordPage) -> Vec<u64> {
    page.items.iter().map(|r| r.id.get()).collect()
}

fn page(store: &RecordStore, scope: Scope, pairs: &[(&str, &str)]) -> RecordPage {
    store
        .page(Kind::Cdr, T, scope, &query(pairs), "started_at")
        .expect("page")
}

#[test]
fn given_a_record_when_applied_twice_then_stored_once_and_found_by_key() {
    let (_d, store) = open();
    let r = cdr(T, 1, BASE_MS, &[ALICE]);
    let a = store.apply(std::slice::from_ref(&r), 5).expect("apply");
    assert_eq!((a.added, a.duplicates), (1, 0));
    // The same call id under a new id (a PBX retry) is a duplicate too.
    let mut again = r.clone();
    again.id = Id(9999);
    let a = store.apply(&[r.clone(), again], 6).expect("apply");
    assert_eq!((a.added, a.duplicates), (0, 2));
    assert_eq!(
        store.find_key(Kind::Cdr, T, "call-1").expect("find"),
        Some(r.id)
    );
    assert_eq!(store.count(Kind::Cdr, T, Scope::Tenant).expect("count"), 1);
    assert_eq!(store.covered().expect("covered"), 6);
    // Keys are per kind and per tenant.
    assert_eq!(
        store.find_key(Kind::Message, T, "call-1").expect("find"),
        None
    );
    assert_eq!(
        store.find_key(Kind::Cdr, OTHER, "call-1").expect("find"),
        None
    );
}

#[test]
fn given_records_when_read_by_id_then_only_the_tenant_and_the_parties_see_them() {
    let (_d, store) = open();
    store
        .apply(
            &[cdr(T, 1, BASE_MS, &[ALICE]), cdr(OTHER, 2, BASE_MS, &[BOB])],
            2,
        )
        .expect("apply");
    let got = store
        .get(Kind::Cdr, T, Scope::Tenant, Id(1001))
        .expect("get");
    assert_eq!(got.map(|r| r.key), Some("call-1".to_string()));
    assert!(store
        .get(Kind::Cdr, T, Scope::User(ALICE), Id(1001))
        .expect("get")
        .is_some());
    assert!(store
        .get(Kind::Cdr, T, Scope::User(BOB), Id(1001))
        .expect("get")
        .is_none());
    // Another tenant's id is not found, whoever asks.
    assert!(store
        .get(Kind::Cdr, T, Scope::Tenant, Id(1002))
        .expect("get")
        .is_none());
    assert!(store
        .get(Kind::Message, T, Scope::Tenant, Id(1001))
        .expect("get")
        .is_none());
}

#[test]
fn given_records_when_paging_by_time_then_newest_first_with_counts_per_scope() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (0..50)
        .map(|n| {
            let who = if n % 2 == 0 {
                vec![ALICE]
            } else {
                vec![ALICE, BOB]
            };
            cdr(T, n, BASE_MS + n as i64 * 1000, &who)
        })
        .collect();
    store.apply(&batch, 50).expect("apply");
    store
        .apply(&[cdr(OTHER, 99, BASE_MS, &[ALICE])], 51)
        .expect("apply");

    let p = page(&store, Scope::Tenant, &[("top", "3")]);
    assert_eq!((p.count, ids(&p)), (50, vec![1049, 1048, 1047]));
    let p = page(
        &store,
        Scope::Tenant,
        &[("orderby", "started_at asc"), ("skip", "48")],
    );
    assert_eq!((p.count, ids(&p)), (50, vec![1048, 1049]));
    let p = page(&store, Scope::User(BOB), &[("top", "2")]);
    assert_eq!((p.count, ids(&p)), (25, vec![1049, 1047]));
    let p = page(&store, Scope::User(ALICE), &[("skip", "100")]);
    assert_eq!((p.count, p.items.len()), (50, 0));
}

#[test]
fn given_a_time_window_when_paging_then_only_records_inside_it() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (0..20)
        .map(|n| cdr(T, n, BASE_MS + n as i64 * 1000, &[ALICE]))
        .collect();
    store.apply(&batch, 20).expect("apply");
    let from = rfc3339(BASE_MS + 5_000);
    let to = rfc3339(BASE_MS + 8_000);
    let filter = format!("started_at ge '{from}' and started_at lt '{to}'");
    let p = page(&store, Scope::Tenant, &[("filter", &filter)]);
    assert_eq!((p.count, ids(&p)), (3, vec![1007, 1006, 1005]));
    // Sub-millisecond bounds round the way the instants compare.
    let just_after = format!("started_at gt '{}'", rfc3339(BASE_MS + 18_000));
    let p = page(&store, Scope::User(ALICE), &[("filter", &just_after)]);
    assert_eq!(ids(&p), vec![1019]);
    let none = format!("started_at gt '{from}' and started_at lt '{from}'");
    assert_eq!(page(&store, Scope::Tenant, &[("filter", &none)]).count, 0);
}

#[test]
fn given_other_filters_search_and_orders_when_paging_then_evaluated_on_each_record() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (0..30)
        .map(|n| cdr(T, n, BASE_MS + n as i64 * 1000, &[ALICE]))
        .collect();
    store.apply(&batch, 30).expect("apply");
    // caller is 100 + n % 7: n = 3, 10, 17, 24.
    let p = page(&store, Scope::Tenant, &[("filter", "caller eq '103'")]);
    assert_eq!((p.count, ids(&p)), (4, vec![1024, 1017, 1010, 1003]));
    let p = page(&store, Scope::Tenant, &[("search", "203"), ("top", "2")]);
    assert_eq!((p.count, ids(&p)), (6, vec![1028, 1023]));
    let p = page(
        &store,
        Scope::Tenant,
        &[("orderby", "duration desc"), ("top", "3")],
    );
    assert_eq!((p.count, ids(&p)), (30, vec![1029, 1028, 1027]));
}

#[test]
fn given_a_deep_page_in_another_order_when_paging_then_refused_naming_the_limit() {
    let (_d, store) = open();
    let q = query(&[("orderby", "caller"), ("skip", "9950"), ("top", "100")]);
    let err = store.page(Kind::Cdr, T, Scope::Tenant, &q, "started_at");
    assert!(matches!(
        err,
        Err(QueryFailure::Page(PageError::Window("started_at")))
    ));
    // In time order any depth is served.
    let q = query(&[("skip", "1000000")]);
    assert!(store
        .page(Kind::Cdr, T, Scope::Tenant, &q, "started_at")
        .is_ok());
}

#[test]
fn given_old_records_when_pruned_then_gone_from_every_index_and_count() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (0..40)
        .map(|n| cdr(T, n, BASE_MS + n as i64 * 1000, &[ALICE, BOB]))
        .collect();
    store.apply(&batch, 40).expect("apply");
    store
        .apply(&[cdr(OTHER, 77, BASE_MS, &[ALICE])], 41)
        .expect("apply");
    // Small batches: pruning spans several transactions.
    let gone = store.prune(Kind::Cdr, BASE_MS + 30_000, 7).expect("prune");
    assert_eq!(gone, 31);
    assert_eq!(store.count(Kind::Cdr, T, Scope::Tenant).expect("count"), 10);
    assert_eq!(
        store.count(Kind::Cdr, T, Scope::User(BOB)).expect("count"),
        10
    );
    assert_eq!(
        store.count(Kind::Cdr, OTHER, Scope::Tenant).expect("count"),
        0
    );
    assert_eq!(store.find_key(Kind::Cdr, T, "call-3").expect("find"), None);
    assert!(store
        .get(Kind::Cdr, T, Scope::Tenant, Id(1003))
        .expect("get")
        .is_none());
    let p = page(
        &store,
        Scope::User(ALICE),
        &[("orderby", "started_at asc"), ("top", "1")],
    );
    assert_eq!((p.count, ids(&p)), (10, vec![1030]));
    let diff = store
        .recorded_between(Kind::Cdr, T, BOB, 0, 100, 100)
        .expect("diff");
    assert_eq!(diff.first(), Some(&(30, Id(1030))));
    assert_eq!(diff.len(), 10);
    // Nothing older left: pruning again does nothing.
    assert_eq!(
        store.prune(Kind::Cdr, BASE_MS + 30_000, 7).expect("prune"),
        0
    );
}

#[test]
fn given_records_at_offsets_when_asking_what_was_recorded_between_then_a_users_in_offset_order() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (1..=10)
        .map(|n| {
            cdr(
                T,
                n,
                BASE_MS - n as i64 * 1000,
                if n % 2 == 0 { &[BOB] } else { &[ALICE] },
            )
        })
        .collect();
    store.apply(&batch, 10).expect("apply");
    let got = store
        .recorded_between(Kind::Cdr, T, BOB, 3, 8, 100)
        .expect("diff");
    assert_eq!(got, vec![(4, Id(1004)), (6, Id(1006)), (8, Id(1008))]);
    let got = store
        .recorded_between(Kind::Cdr, T, BOB, 0, 10, 2)
        .expect("diff");
    assert_eq!(got, vec![(2, Id(1002)), (4, Id(1004))]);
    assert!(store
        .recorded_between(Kind::Cdr, T, BOB, 10, 10, 5)
        .expect("diff")
        .is_empty());
}

#[test]
fn given_a_reopened_store_when_read_then_everything_is_still_there() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("records.redb");
    {
        let store = RecordStore::open(&path, StoreConfig::default()).expect("open");
        store
            .apply(&[cdr(T, 1, BASE_MS, &[ALICE])], 3)
            .expect("apply");
        store.sync().expect("sync");
    }
    let store = RecordStore::open(&path, StoreConfig::default()).expect("reopen");
    assert_eq!(store.covered().expect("covered"), 3);
    assert_eq!(
        store
            .count(Kind::Cdr, T, Scope::User(ALICE))
            .expect("count"),
        1
    );
}

/// Random records and random queries: every page equals the query engine's
/// reference path ([`ListQuery::run`]) over the scope's rendered records.
#[test]
fn given_random_records_and_queries_when_paging_then_pages_equal_the_reference_path() {
    let (_d, store) = open();
    let mut rng = StdRng::seed_from_u64(17);
    let users = [ALICE, BOB, Id(102)];
    let mut all: Vec<NewRecord> = Vec::new();
    for n in 0..400u64 {
        // Distinct times: the reference path breaks ties by input order,
        // the store by id; distinct times keep the comparison exact.
        let at = BASE_MS + ((n * 7919) % 400) as i64 * 1_000_000 + n as i64;
        let mut parties = vec![users[rng.gen_range(0..3)]];
        if rng.gen_bool(0.3) {
            parties.push(users[rng.gen_range(0..3)]);
        }
        all.push(cdr(T, n, at, &parties));
    }
    for chunk in all.chunks(64) {
        store
            .apply(chunk, chunk.last().map_or(0, |r| r.offset))
            .expect("apply");
    }
    let instants: Vec<String> = all.iter().map(|r| rfc3339(r.at_ms)).collect();
    for round in 0..300 {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let a = &instants[rng.gen_range(0..instants.len())];
        let b = &instants[rng.gen_range(0..instants.len())];
        let filter = match rng.gen_range(0..7) {
            0 => None,
            1 => Some(format!("started_at ge '{a}'")),
            2 => Some(format!("started_at gt '{a}' and started_at le '{b}'")),
            3 => Some(format!(
                "started_at lt '{b}' and caller eq '10{}'",
                rng.gen_range(0..7)
            )),
            4 => Some(format!("duration gt {}", rng.gen_range(0..60))),
            5 => Some(format!("started_at ge '{a}' or callee eq '201'")),
            _ => Some(format!("not (started_at lt '{a}')")),
        };
        if let Some(f) = filter {
            pairs.push(("filter", f));
        }
        if rng.gen_bool(0.2) {
            pairs.push(("search", format!("{}", rng.gen_range(100..205))));
        }
        match rng.gen_range(0..4) {
            0 => {}
            1 => pairs.push(("orderby", "started_at asc".into())),
            2 => pairs.push(("orderby", "started_at desc".into())),
            _ => pairs.push(("orderby", "duration".into())),
        }
        pairs.push(("skip", format!("{}", rng.gen_range(0..60))));
        pairs.push(("top", format!("{}", rng.gen_range(1..40))));
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let q = query(&refs);
        let scope = match rng.gen_range(0..4) {
            0 => Scope::Tenant,
            n => Scope::User(users[n - 1]),
        };
        let got = store
            .page(Kind::Cdr, T, scope, &q, "started_at")
            .expect("page");
        // Reference: the scope's records in id order (the store's tie order).
        let mut visible: Vec<&NewRecord> = all
            .iter()
            .filter(|r| match scope {
                Scope::Tenant => true,
                Scope::User(u) => r.parties.contains(&u),
            })
            .collect();
        visible.sort_by_key(|r| r.id.get());
        let items: Vec<Map<String, Value>> = visible
            .iter()
            .map(|r| {
                let mut m: Map<String, Value> =
                    serde_json::from_slice(&r.body).expect("body is an object");
                m.insert("_id".into(), json!(r.id.get()));
                m
            })
            .collect();
        let want = q.run(items);
        let want_ids: Vec<u64> = want
            .items
            .iter()
            .map(|m| m.get("_id").and_then(Value::as_u64).unwrap_or(0))
            .collect();
        assert_eq!(
            (got.count, ids(&got)),
            (want.count, want_ids),
            "round {round}: {pairs:?} as {scope:?}"
        );
    }
}

/// Pagination over 100k records: pages taken across the whole range, in
/// either direction and scope, are exactly the expected slices.
#[test]
fn given_100k_records_when_paging_anywhere_then_each_page_is_the_expected_slice() {
    let (_d, store) = open();
    let batch: Vec<NewRecord> = (0..100_000u64)
        .map(|n| {
            let mut r = cdr(T, n, BASE_MS + (n as i64 / 3) * 1000, &[ALICE]);
            r.body = b"{}".to_vec();
            r
        })
        .collect();
    for chunk in batch.chunks(10_000) {
        store
            .apply(chunk, chunk.last().map_or(0, |r| r.offset))
            .expect("apply");
    }
    let asc: Vec<u64> = batch.iter().map(|r| r.id.get()).collect();
    let desc: Vec<u64> = asc.iter().rev().copied().collect();
    for skip in [
        0usize, 99, 100, 12_345, 50_000, 77_777, 99_950, 99_999, 100_000,
    ] {
        for (dir, want) in [("asc", &asc), ("desc", &desc)] {
            for scope in [Scope::Tenant, Scope::User(ALICE)] {
                let skip_s = skip.to_string();
                let orderby = format!("started_at {dir}");
                let p = page(&store, scope, &[("orderby", &orderby), ("skip", &skip_s)]);
                let end = (skip + 100).min(want.len());
                assert_eq!(p.count, 100_000);
                assert_eq!(
                    ids(&p),
                    want[skip.min(end)..end].to_vec(),
                    "{dir} {skip} {scope:?}"
                );
            }
        }
    }
}

fn recording(n: u64, file: u64, digest: &str) -> NewRecord {
    let body = json!({"started_at": rfc3339(BASE_MS), FILE_ID: file, FILE_DIGEST: digest});
    NewRecord {
        kind: Kind::Recording,
        tenant: T,
        id: Id(5000 + n),
        key: format!("rec-{n}"),
        at_ms: BASE_MS + n as i64,
        parties: vec![ALICE],
        offset: 5000 + n,
        body: serde_json::to_vec(&body).expect("json"),
    }
}

#[test]
fn given_recordings_when_applied_and_removed_then_their_file_and_blob_keys_follow() {
    let (_dir, store) = open();
    store
        .apply(
            &[
                recording(1, 41, "aa"),
                recording(2, 42, "aa"),
                recording(3, 43, "bb"),
            ],
            10,
        )
        .expect("apply");
    assert_eq!(
        store
            .find_key(Kind::Recording, T, &file_key(Id(42)))
            .expect("find"),
        Some(Id(5002))
    );
    assert_eq!(
        store.recordings_of_blob(T, "aa").expect("blob"),
        vec![Id(5001), Id(5002)]
    );
    assert!(store
        .recordings_of_blob(OTHER, "aa")
        .expect("blob")
        .is_empty());
    let old = store
        .older_than(Kind::Recording, BASE_MS + 3, 10)
        .expect("old");
    assert_eq!(
        old.iter().map(|(t, r)| (*t, r.id)).collect::<Vec<_>>(),
        vec![(T, Id(5001)), (T, Id(5002))]
    );
    // Removing one (and one that is not there) in order, with an add after.
    store
        .apply_changes(
            &[
                Change::Remove {
                    kind: Kind::Recording,
                    tenant: T,
                    id: Id(5001),
                },
                Change::Remove {
                    kind: Kind::Recording,
                    tenant: T,
                    id: Id(9999),
                },
                Change::Add(recording(4, 41, "cc")),
            ],
            11,
        )
        .expect("apply");
    assert_eq!(
        store.recordings_of_blob(T, "aa").expect("blob"),
        vec![Id(5002)]
    );
    assert_eq!(
        store.find_key(Kind::Recording, T, "rec-1").expect("find"),
        None
    );
    assert_eq!(
        store
            .find_key(Kind::Recording, T, &file_key(Id(41)))
            .expect("find"),
        Some(Id(5004)),
        "the file is free again once its recording is gone"
    );
    assert_eq!(
        store
            .count(Kind::Recording, T, Scope::User(ALICE))
            .expect("count"),
        3
    );
    assert_eq!(store.covered().expect("covered"), 11);
}
