//! The offline log tools, run as the built binary: `log verify`,
//! `log export`, `log import`, `log stats`, `log reindex` and `replay`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use switchboard_events::domain::UserUpdated;
use switchboard_events::segment::{locate_record, segment_name};
use switchboard_events::{
    AppendRequest, Event, EventLog, Fields, Id, LogConfig, Metadata, SegmentLog, Value,
};

fn switchboard(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("SWITCHBOARD_LOG_LEVEL", "warn")
        .output()
        .expect("runs the binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `n` events (in appends of 3) over 5 users in 2 tenants.
async fn write_log(dir: &Path, n: u64) -> SegmentLog {
    let log = SegmentLog::open(LogConfig::new(dir)).expect("opens");
    let meta = Arc::new(Metadata::system("test"));
    let mut i = 0;
    while i < n {
        let events = (i..(i + 3).min(n))
            .map(|k| {
                let mut changes = Fields::new();
                changes.insert("display_name".into(), Value::Str(format!("name {k}")));
                Event::UserUpdated(UserUpdated {
                    user_id: Id(k % 5 + 1),
                    changes: changes.into(),
                })
                .to_new_event(Id(k % 2 + 1))
                .expect("encodes")
            })
            .collect::<Vec<_>>();
        i += events.len() as u64;
        log.append(AppendRequest {
            events,
            expected: vec![],
            metadata: meta.clone(),
        })
        .await
        .expect("append");
    }
    log
}

fn first_segment(data: &Path) -> std::path::PathBuf {
    data.join("log/segments").join(segment_name(1))
}

fn head_hash_of(out: &str) -> String {
    out.split("head hash ")
        .nth(1)
        .expect("a head hash is printed")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn verify_prints_count_and_head_hash_and_names_a_flipped_byte() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 60).await;
    log.close().await;
    drop(log);

    let ok = switchboard(&data, &["log", "verify"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("60 records"), "{}", stdout(&ok));
    assert_eq!(head_hash_of(&stdout(&ok)).len(), 64);

    // Flip one byte in the middle of record 23.
    let path = first_segment(&data);
    let mut bytes = std::fs::read(&path).expect("read");
    let span = locate_record(&bytes, 23).expect("record 23");
    bytes[span.start + span.len() / 2] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let bad = switchboard(&data, &["log", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("offset 23"),
        "names the offset: {}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn verify_names_a_group_commit_removed_from_the_middle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 40).await;
    log.close().await;
    drop(log);
    // Appends of 3: offsets 16..=18 are one frame. Cut it out.
    let path = first_segment(&data);
    let bytes = std::fs::read(&path).expect("read");
    let start = locate_record(&bytes, 16).expect("16").start - 4 - 24;
    let end = locate_record(&bytes, 18).expect("18").end;
    let mut cut = bytes[..start].to_vec();
    cut.extend_from_slice(&bytes[end..]);
    std::fs::write(&path, &cut).expect("write");
    let bad = switchboard(&data, &["log", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("offset 16"), "{}", stderr(&bad));
}

#[tokio::test]
async fn verify_notes_a_torn_tail_and_the_next_start_cuts_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 9).await;
    log.close().await;
    drop(log);
    let path = first_segment(&data);
    let mut bytes = std::fs::read(&path).expect("read");
    let frame = locate_record(&bytes, 7).expect("7").start - 4 - 24;
    let partial = bytes[frame..frame + 40].to_vec();
    // Where the writer would have written the next frame: over the zeros
    // the segment was preallocated with, right after the last frame.
    let end = locate_record(&bytes, 9).expect("9").end;
    bytes[end..end + 40].copy_from_slice(&partial);
    std::fs::write(&path, &bytes).expect("write");
    let o = switchboard(&data, &["log", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("9 records"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("torn write of 40 bytes"),
        "{}",
        stdout(&o)
    );
    let log = SegmentLog::open(LogConfig::new(&data)).expect("opens");
    assert_eq!(log.head(), 9);
    log.close().await;
    drop(log);
    let o = switchboard(&data, &["log", "verify"]);
    assert!(!stdout(&o).contains("torn"), "{}", stdout(&o));
}

#[tokio::test]
async fn reindex_rebuilds_a_lost_index() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 50).await;
    log.close().await;
    drop(log);
    let head = head_hash_of(&stdout(&switchboard(&data, &["log", "verify"])));
    // An index sled cannot open at all.
    let index = data.join("log/index");
    std::fs::remove_dir_all(&index).expect("rm");
    std::fs::create_dir_all(&index).expect("mkdir");
    std::fs::write(index.join("conf"), b"not a sled config").expect("write");
    std::fs::write(index.join("db"), b"garbage").expect("write");
    let o = switchboard(&data, &["log", "reindex"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("reindexed: 50 records"),
        "{}",
        stdout(&o)
    );
    assert_eq!(head_hash_of(&stdout(&o)), head);
    let log = SegmentLog::open(LogConfig::new(&data)).expect("opens");
    let stream = switchboard_events::StreamId::of("user", Id(3));
    assert_eq!(log.stream_version(&stream).expect("v"), 10);
    assert_eq!(log.read_stream(&stream, 1).count(), 10);
    log.close().await;
}

#[tokio::test]
async fn tools_refuse_clearly_while_another_process_holds_the_data_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 5).await; // stays open: we hold the log's lock
    for args in [
        &["log", "verify"][..],
        &["log", "stats"],
        &["log", "export"],
        &["log", "reindex"],
        &["replay", "--until-offset", "3", "--out"],
    ] {
        let mut args = args.to_vec();
        let out_dir = tmp.path().join("out");
        let out_str = out_dir.to_string_lossy().into_owned();
        if args.last() == Some(&"--out") {
            args.push(&out_str);
        }
        let o = switchboard(&data, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("in use by another process"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    log.close().await;
}

#[tokio::test]
async fn export_then_import_gives_the_same_head_hash_and_tampered_exports_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 30).await;
    log.close().await;
    drop(log);
    let verified = switchboard(&data, &["log", "verify"]);
    let head = head_hash_of(&stdout(&verified));

    let export = tmp.path().join("export.jsonl");
    let o = switchboard(
        &data,
        &["log", "export", "--out", export.to_str().expect("utf-8")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&export).expect("export written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 30);
    let first: serde_json::Value = serde_json::from_str(lines[0]).expect("json line");
    for key in [
        "offset",
        "event_type",
        "hash",
        "prev_hash",
        "payload",
        "event",
    ] {
        assert!(first.get(key).is_some(), "line has {key}");
    }

    // Import into a fresh directory: same head hash, and it verifies.
    let copy = tmp.path().join("copy");
    let o = switchboard(&copy, &["log", "import", export.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(head_hash_of(&stdout(&o)), head);
    let v = switchboard(&copy, &["log", "verify"]);
    assert_eq!(head_hash_of(&stdout(&v)), head);

    // Importing again into the same (now non-empty) directory is refused.
    let again = switchboard(&copy, &["log", "import", export.to_str().expect("utf-8")]);
    assert_eq!(again.status.code(), Some(1));

    // Altered, dropped and reordered lines are refused, naming the line.
    let altered = text.replacen("name 9", "name X", 1);
    assert_ne!(altered, text);
    let mut dropped = lines.clone();
    dropped.remove(12);
    let mut swapped = lines.clone();
    swapped.swap(5, 6);
    for (what, body, line) in [
        ("altered", altered, 10),
        ("dropped", dropped.join("\n"), 13),
        ("reordered", swapped.join("\n"), 6),
    ] {
        let file = tmp.path().join(format!("{what}.jsonl"));
        std::fs::write(&file, body).expect("write");
        let target = tmp.path().join(format!("target-{what}"));
        let o = switchboard(&target, &["log", "import", file.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(1), "{what} must be refused");
        assert!(
            stderr(&o).contains(&format!("line {line}:")),
            "{what}: {}",
            stderr(&o)
        );
    }

    // A tenant-filtered export has only that tenant's lines.
    let t = switchboard(
        &data,
        &[
            "log", "export", "--tenant", "2", "--from", "3", "--to", "20",
        ],
    );
    let out = stdout(&t);
    assert!(!out.is_empty());
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(v["tenant"], 2);
        let offset = v["offset"].as_u64().expect("offset");
        assert!((3..=20).contains(&offset));
    }
}

#[tokio::test]
async fn stats_count_types_and_tenants() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 11).await;
    log.close().await;
    drop(log);
    let o = switchboard(&data, &["log", "stats", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["count"], 11);
    assert_eq!(v["by_type"]["UserUpdated"], 11);
    assert_eq!(v["by_tenant"]["1"], 6);
    assert_eq!(v["by_tenant"]["2"], 5);
    assert!(v["size_on_disk"].as_u64().expect("size") > 0);
    assert_eq!(v["segments"], 1);
    assert!(v["first_at"].as_str().expect("first").ends_with('Z'));
    // Piped, so no progress bar is drawn.
    assert!(
        !stderr(&o).contains('['),
        "quiet when piped: {}",
        stderr(&o)
    );
}

#[tokio::test]
async fn tampering_older_than_the_start_up_tail_check_is_caught_by_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = write_log(&data, 60).await;
    log.close().await;
    drop(log);
    // Rewrite record 5 whole: new bytes with a recomputed, valid CRC, as a
    // forger would (same length, so the frame around it still parses). Only
    // the hash chain can tell.
    let path = first_segment(&data);
    let mut bytes = std::fs::read(&path).expect("read");
    let span = locate_record(&bytes, 5).expect("record 5");
    let env = switchboard_events::codec::decode_record(&bytes[span.clone()]).expect("decodes");
    let mut line = switchboard_events::export::ExportLine::from_envelope(&env);
    assert_eq!(line.actor_name, "system");
    line.actor_name = "forger".into();
    let (forged, _) = line.reframe(&env.prev_hash).expect("re-frames");
    assert_eq!(forged.len(), span.len());
    bytes[span].copy_from_slice(&forged);
    std::fs::write(&path, &bytes).expect("write");

    // Start-up checks only the last `tail_check` records: this log opens.
    let mut config = LogConfig::new(&data);
    config.tail_check = 10;
    let reopened = SegmentLog::open(config).expect("the tail check does not reach offset 5");
    reopened.close().await;
    drop(reopened);
    // `log verify` checks everything and names the forged record's successor,
    // whose prev_hash no longer matches.
    let bad = switchboard(&data, &["log", "verify"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    let err = stderr(&bad);
    assert!(
        err.contains("at offset 6") && err.contains("record 5"),
        "names where the chain breaks: {err}"
    );
}
