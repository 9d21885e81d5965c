//! The record format is frozen: these bytes and hashes were written by the
//! format-1 codec and are checked into `fixtures/golden-records.txt`. A
//! change to the framing, the postcard body, the CRC, the hash chain, or
//! to the payload encoding of the domain event used here makes this test
//! fail instead of passing silently (old logs would stop verifying or
//! decoding). A deliberate format change needs a new `RECORD_FORMAT`, a
//! reader for format 1, and a new fixture beside this one.

use std::collections::BTreeMap;
use switchboard_events::codec::{decode_record, encode_record, RecordParts, GENESIS_HASH};
use switchboard_events::domain::UserCreated;
use switchboard_events::{Event, Id, Metadata, Value};

/// One fixture line: `offset record-hex hash-hex`.
struct Golden {
    offset: u64,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

fn fixture() -> Vec<Golden> {
    let text = include_str!("fixtures/golden-records.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let offset = parts.next().and_then(|s| s.parse().ok()).expect("offset");
            let bytes = hex(parts.next().expect("record"));
            let hash = hex(parts.next().expect("hash"))
                .try_into()
                .expect("32 bytes");
            Golden {
                offset,
                bytes,
                hash,
            }
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The domain event of record 1 (its payload bytes are pinned too).
fn user_created() -> Event {
    let mut attrs = BTreeMap::new();
    attrs.insert("display_name".to_owned(), Value::Str("Ann Émile".into()));
    attrs.insert("enabled".to_owned(), Value::Bool(true));
    attrs.insert("max_calls".to_owned(), Value::Int(-3));
    attrs.insert("ratio".to_owned(), Value::Float(0.5));
    attrs.insert(
        "tags".to_owned(),
        Value::List(vec![Value::Null, Value::Str("x".into())]),
    );
    Event::UserCreated(UserCreated {
        user_id: Id(4_503_599_627_370_495),
        name: "ann".into(),
        role: "StandardUser".into(),
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        attrs,
    })
}

/// One record of the fixture: offset, metadata, stream, event type,
/// stream version, schema version, recorded_at (µs) and payload bytes.
type Record = (
    u64,
    Metadata,
    &'static str,
    &'static str,
    u64,
    u16,
    i64,
    Vec<u8>,
);

/// The three records of the fixture, as the writer would frame them:
/// every optional metadata field set, none set, and extreme values.
fn records() -> Vec<Record> {
    let full = Metadata {
        actor_id: Some(Id(77)),
        actor_name: "boss".into(),
        request_id: Some("0b7f6a9e-req".into()),
        source_ip: Some("192.0.2.7".parse().expect("ip")),
        via: "portsip".into(),
    };
    let bare = Metadata {
        actor_id: None,
        actor_name: "system".into(),
        request_id: None,
        source_ip: None,
        via: "system".into(),
    };
    let v6 = Metadata {
        actor_id: Some(Id(u64::MAX >> 11)),
        actor_name: "".into(),
        request_id: Some("".into()),
        source_ip: Some("2001:db8::1".parse().expect("ip")),
        via: "user-extensions-v1".into(),
    };
    let payload = user_created().encode().expect("encodes");
    vec![
        (
            1,
            full,
            "user-4503599627370495",
            "UserCreated",
            1,
            1,
            1_764_590_400_123_456,
            payload,
        ),
        (2, bare, "tenant-9", "TenantDeleted", 3, 1, -1, Vec::new()),
        (
            300,
            v6,
            "x",
            "Future",
            u64::MAX,
            u16::MAX,
            253_402_300_799_999_999,
            vec![0, 255, 1],
        ),
    ]
}

#[test]
fn records_encode_to_the_golden_bytes_and_chain_hashes() {
    let golden = fixture();
    let records = records();
    assert_eq!(golden.len(), records.len(), "one fixture line per record");
    let mut prev = GENESIS_HASH;
    let mut actual = String::new();
    for (offset, meta, stream, event_type, version, schema, at, payload) in &records {
        let (bytes, hash) = encode_record(&RecordParts {
            offset: *offset,
            stream,
            stream_version: *version,
            tenant: 3,
            event_type,
            schema_version: *schema,
            recorded_at_us: *at,
            metadata: meta,
            payload,
            prev_hash: &prev,
        })
        .expect("encodes");
        actual.push_str(&format!("{offset} {} {}\n", to_hex(&bytes), to_hex(&hash)));
        prev = hash;
    }
    let expected: String = golden
        .iter()
        .map(|g| format!("{} {} {}\n", g.offset, to_hex(&g.bytes), to_hex(&g.hash)))
        .collect();
    assert_eq!(
        actual, expected,
        "the record format changed; if deliberate, see this file's header"
    );
}

#[test]
fn golden_bytes_decode_and_chain() {
    let golden = fixture();
    let records = records();
    let mut prev = GENESIS_HASH;
    for (g, (offset, meta, stream, event_type, version, schema, at, payload)) in
        golden.iter().zip(&records)
    {
        let env = decode_record(&g.bytes).expect("golden bytes decode");
        assert_eq!(env.offset, g.offset);
        assert_eq!(env.offset, *offset);
        assert_eq!(env.stream.as_str(), *stream);
        assert_eq!(env.event_type, *event_type);
        assert_eq!(env.stream_version, *version);
        assert_eq!(env.schema_version, *schema);
        assert_eq!(switchboard_events::codec::to_micros(env.recorded_at), *at);
        assert_eq!(&env.metadata, meta);
        assert_eq!(&env.payload, payload);
        assert_eq!(env.tenant, Id(3));
        assert_eq!(
            env.prev_hash, prev,
            "record {offset} chains to the one before"
        );
        assert_eq!(env.hash, g.hash);
        prev = env.hash;
    }
    // The pinned payload still decodes to the same domain event.
    let first = decode_record(&golden[0].bytes).expect("decodes");
    assert_eq!(
        Event::from_envelope(&first).expect("payload decodes"),
        user_created()
    );
}
