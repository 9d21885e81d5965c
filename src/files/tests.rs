//! The store's own tests: durability across a reopen, verification,
//! limits, owners, pins and the sweep.

use super::*;
use std::fs;
use std::time::Duration;
use switchboard_events::Id;
use time::OffsetDateTime;

pub use super::testing::wav as wav_with;

/// A WAVE header without samples.
pub fn wav() -> Vec<u8> {
    wav_with(0)
}

const ALICE: Owner = Owner {
    tenant: Id(1),
    user: Id(10),
};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time")
}

fn intent(file: u64) -> Intent {
    Intent {
        file_id: Id(file),
        name: "greeting.wav".into(),
        temporary: true,
    }
}

fn limits() -> Limits {
    Limits {
        max_file_bytes: 4096,
        open_uploads_per_tenant: 3,
        upload_expiry: Duration::from_secs(3600),
        ..Limits::default()
    }
}

fn store(dir: &std::path::Path) -> Store {
    Store::open(dir.join("files"), limits()).expect("open")
}

fn blobs(dir: &std::path::Path) -> usize {
    fs::read_dir(dir.join("files/blobs/sha256"))
        .expect("blobs")
        .map(|s| {
            fs::read_dir(s.expect("shard").path())
                .expect("shard")
                .count()
        })
        .sum()
}

#[test]
fn put_verified_stores_once_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let bytes = wav_with(100);
    let a = s
        .put_verified(&bytes, Some(&Digest::of(&bytes)))
        .expect("put");
    assert_eq!(a.size, 144);
    assert_eq!(a.media_type, "audio/vnd.wave");
    let b = s.put_verified(&bytes, None).expect("same bytes again");
    assert_eq!(a.digest, b.digest);
    assert_eq!(blobs(dir.path()), 1, "one blob per content");
    let mut back = Vec::new();
    std::io::Read::read_to_end(
        &mut s.open_blob(&a.digest).expect("open").expect("present"),
        &mut back,
    )
    .expect("read");
    assert_eq!(back, bytes);
    assert!(fs::read_dir(dir.path().join("files/tmp"))
        .expect("tmp")
        .next()
        .is_none());
}

#[test]
fn put_verified_refuses_wrong_digest_size_and_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let wrong = Digest::of(b"other");
    assert!(matches!(
        s.put_verified(&wav(), Some(&wrong)),
        Err(FileError::DigestMismatch { .. })
    ));
    assert!(matches!(
        s.put_verified(&wav_with(5000), None),
        Err(FileError::TooLarge { limit: 4096 })
    ));
    assert!(matches!(
        s.put_verified(b"PK\x03\x04\x14\0\0\0", None),
        Err(FileError::MediaType { ref media_type }) if media_type == "application/zip"
    ));
    assert_eq!(blobs(dir.path()), 0, "nothing refused reaches the store");
}

#[test]
fn an_upload_resumes_after_a_reopen_and_completes_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = wav_with(1000);
    let digest = Digest::of(&bytes);
    let begun = {
        let s = store(dir.path());
        let begun = s.begin(ALICE, intent(7), now()).expect("begin");
        let p = s
            .append(begun.id, ALICE, &begun.token, Some(0), &bytes[..400], now())
            .expect("append");
        assert_eq!(
            p,
            Progress {
                size: 400,
                completed: false
            }
        );
        begun
    }; // the store is dropped: as after a crash, nothing but the disk remains
    let s = store(dir.path());
    assert_eq!(s.status(begun.id, ALICE).expect("status").size, 400);
    assert_eq!(blobs(dir.path()), 0, "a half-finished upload is not a blob");
    s.append(
        begun.id,
        ALICE,
        &begun.token,
        Some(400),
        &bytes[400..],
        now(),
    )
    .expect("append the rest");
    let done = s
        .complete(begun.id, ALICE, &begun.token, &digest, &[], now())
        .expect("complete");
    assert_eq!(done.intent, intent(7));
    assert_eq!(done.stored.digest, digest);
    assert_eq!(done.stored.size, bytes.len() as u64);
    assert!(s.contains(&digest));
    // A retried completion (its answer was lost) gives the same file.
    let again = s
        .complete(begun.id, ALICE, &begun.token, &digest, &[], now())
        .expect("complete again");
    assert_eq!(again.intent.file_id, Id(7));
    s.finish(begun.id).expect("finish");
    assert!(matches!(
        s.status(begun.id, ALICE),
        Err(FileError::UploadNotFound)
    ));
    assert!(!dir
        .path()
        .join("files/uploads")
        .join(begun.id.to_string())
        .exists());
}

#[test]
fn bytes_past_the_acknowledged_size_are_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = wav_with(200);
    let begun = {
        let s = store(dir.path());
        let b = s.begin(ALICE, intent(7), now()).expect("begin");
        s.append(b.id, ALICE, &b.token, None, &bytes[..100], now())
            .expect("append");
        b
    };
    // An append cut off by a crash left unacknowledged garbage behind.
    let data = dir
        .path()
        .join("files/uploads")
        .join(begun.id.to_string())
        .join("data");
    let mut torn = fs::read(&data).expect("data");
    torn.extend_from_slice(b"garbage");
    fs::write(&data, torn).expect("write");
    let s = store(dir.path());
    assert_eq!(s.status(begun.id, ALICE).expect("status").size, 100);
    s.append(
        begun.id,
        ALICE,
        &begun.token,
        Some(100),
        &bytes[100..],
        now(),
    )
    .expect("append");
    s.complete(
        begun.id,
        ALICE,
        &begun.token,
        &Digest::of(&bytes),
        &[],
        now(),
    )
    .expect("the digest matches: the garbage is gone");
}

#[test]
fn out_of_order_wrong_digest_and_oversize_leave_the_upload_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let bytes = wav_with(100);
    let b = s.begin(ALICE, intent(7), now()).expect("begin");
    s.append(b.id, ALICE, &b.token, Some(0), &bytes[..50], now())
        .expect("append");
    assert!(matches!(
        s.append(b.id, ALICE, &b.token, Some(60), &bytes[60..], now()),
        Err(FileError::OutOfOrder {
            expected: 50,
            got: 60
        })
    ));
    assert!(matches!(
        s.append(b.id, ALICE, &b.token, None, &[0u8; 4096], now()),
        Err(FileError::TooLarge { limit: 4096 })
    ));
    assert!(matches!(
        s.complete(b.id, ALICE, &b.token, &Digest::of(&bytes), &[], now()),
        Err(FileError::DigestMismatch { .. })
    ));
    assert_eq!(s.status(b.id, ALICE).expect("status").size, 50);
    assert!(matches!(
        s.complete(
            b.id,
            ALICE,
            &b.token,
            &Digest::of(b"wrong"),
            &bytes[50..],
            now()
        ),
        Err(FileError::DigestMismatch { .. })
    ));
    assert_eq!(
        s.status(b.id, ALICE).expect("status").size,
        50,
        "a refused completion's body is not kept"
    );
    assert_eq!(blobs(dir.path()), 0);
    // The body of the completing request is the last chunk.
    s.complete(
        b.id,
        ALICE,
        &b.token,
        &Digest::of(&bytes),
        &bytes[50..],
        now(),
    )
    .expect("complete with the rest in the body");
    assert!(matches!(
        s.append(b.id, ALICE, &b.token, None, b"more", now()),
        Err(FileError::Completed)
    ));
}

#[test]
fn unaccepted_media_type_is_refused_at_completion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let b = s.begin(ALICE, intent(7), now()).expect("begin");
    let text = b"just some text, not audio";
    s.append(b.id, ALICE, &b.token, None, text, now())
        .expect("append");
    assert!(matches!(
        s.complete(b.id, ALICE, &b.token, &Digest::of(text), &[], now()),
        Err(FileError::MediaType { ref media_type }) if media_type == "application/octet-stream"
    ));
    assert_eq!(blobs(dir.path()), 0);
}

#[test]
fn uploads_are_their_owners_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let b = s.begin(ALICE, intent(7), now()).expect("begin");
    let other_tenant = Owner {
        tenant: Id(2),
        user: Id(10),
    };
    let other_user = Owner {
        tenant: Id(1),
        user: Id(11),
    };
    for o in [other_tenant, other_user] {
        assert!(matches!(s.status(b.id, o), Err(FileError::UploadNotFound)));
        assert!(matches!(
            s.append(b.id, o, &b.token, None, b"x", now()),
            Err(FileError::UploadNotFound)
        ));
        assert!(matches!(s.destroy(b.id, o), Err(FileError::UploadNotFound)));
    }
    assert!(matches!(
        s.append(b.id, ALICE, "not-the-token", None, b"x", now()),
        Err(FileError::BadToken)
    ));
    s.destroy(b.id, ALICE).expect("destroy");
    assert!(matches!(
        s.status(b.id, ALICE),
        Err(FileError::UploadNotFound)
    ));
    assert!(UploadId::parse("../../etc").is_none());
}

#[test]
fn open_uploads_per_tenant_are_bounded_and_names_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    for _ in 0..3 {
        s.begin(ALICE, intent(7), now()).expect("begin");
    }
    assert!(matches!(
        s.begin(ALICE, intent(7), now()),
        Err(FileError::TooManyUploads { limit: 3 })
    ));
    let bob = Owner {
        tenant: Id(2),
        user: Id(20),
    };
    s.begin(bob, intent(8), now())
        .expect("another tenant has its own bound");
    for bad in ["", "a/b", "a\"b", "bell\u{7}", &"x".repeat(256)] {
        let i = Intent {
            name: bad.into(),
            ..intent(9)
        };
        assert!(
            matches!(
                s.begin(bob, i, now()),
                Err(FileError::Invalid {
                    field: "filename",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn the_sweep_deletes_only_what_nothing_references_or_pins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let kept = s.put_verified(&wav_with(1), None).expect("put").digest;
    let pinned = s.put_verified(&wav_with(2), None).expect("put");
    let dropped = s.put_verified(&wav_with(3), None).expect("put").digest;
    // A completed upload whose file event is not applied yet.
    let b = s.begin(ALICE, intent(7), now()).expect("begin");
    let up = wav_with(4);
    let done = s
        .complete(b.id, ALICE, &b.token, &Digest::of(&up), &up, now())
        .expect("complete");
    drop(done.stored.pin);
    let referenced = |d: &Digest| *d == kept;
    let swept = s.sweep(now(), &referenced).expect("sweep");
    assert_eq!(
        swept,
        Swept {
            blobs: 1,
            uploads: 0
        }
    );
    assert!(s.contains(&kept) && s.contains(&pinned.digest) && s.contains(&Digest::of(&up)));
    assert!(!s.contains(&dropped));
    // Let go of the pin, finish the upload: both go at the next sweep.
    drop(pinned);
    s.finish(b.id).expect("finish");
    assert_eq!(s.sweep(now(), &referenced).expect("sweep").blobs, 2);
    assert!(s.contains(&kept));
    assert_eq!(blobs(dir.path()), 1);
}

#[test]
fn a_completed_upload_keeps_its_blob_across_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let up = wav_with(4);
    let b = {
        let s = store(dir.path());
        let b = s.begin(ALICE, intent(7), now()).expect("begin");
        s.complete(b.id, ALICE, &b.token, &Digest::of(&up), &up, now())
            .expect("complete");
        b
    }; // crashed before the file's event was applied
    let s = store(dir.path());
    assert_eq!(s.sweep(now(), &|_| false).expect("sweep").blobs, 0);
    let again = s
        .complete(b.id, ALICE, &b.token, &Digest::of(&up), &[], now())
        .expect("the retried completion finds its blob");
    assert_eq!(again.stored.size, up.len() as u64);
}

#[test]
fn abandoned_uploads_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let old = s.begin(ALICE, intent(7), now()).expect("begin");
    let later = now() + time::Duration::minutes(50);
    let fresh = s.begin(ALICE, intent(8), later).expect("begin");
    let swept = s
        .sweep(now() + time::Duration::minutes(70), &|_| false)
        .expect("sweep");
    assert_eq!(swept.uploads, 1);
    assert!(matches!(
        s.status(old.id, ALICE),
        Err(FileError::UploadNotFound)
    ));
    assert!(s.status(fresh.id, ALICE).is_ok());
}
