//! The one-time migration of a wave-1 data directory, and the bulk writer
//! it shares with `log import`.
//!
//! Opening a data directory that still holds wave-1 sled files and no
//! `log/` migrates it before anything else:
//!
//! 1. open the wave-1 records and verify them end to end (CRC, dense
//!    offsets from 1, the hash chain): count and head hash;
//! 2. write them into segments under `<data_dir>/log.migrating/`, framed by
//!    their original group commits (records of one commit share their
//!    `recorded_at`), and sync every segment;
//! 3. build the index by scanning those segments, which verifies the chain
//!    a second time on the new bytes; the count and head hash must equal
//!    step 1's;
//! 4. rename `log.migrating` to `log` (the commit point) and sync the data
//!    directory;
//! 5. only then delete the wave-1 files.
//!
//! A crash before step 4 leaves the wave-1 files untouched and a
//! `log.migrating` that the next attempt deletes and redoes; a crash after
//! it leaves a verified `log/` beside the old files, which the next open
//! deletes. Progress (records) goes to [`crate::LogConfig::progress`].

use crate::codec::{self, RecordView, GENESIS_HASH};
use crate::frame::FrameBuilder;
use crate::layout::LogDirs;
use crate::progress::Progress;
use crate::segment::SegmentWriter;
use crate::segment_log::{LogConfig, OpenError};
use crate::verify::{hex, verify_records};
use crate::wave1::{self, Wave1Log};
use std::path::Path;

/// Most records per frame when writing in bulk.
const BULK_FRAME_RECORDS: u32 = 4096;

/// Most bytes per frame when writing in bulk.
const BULK_FRAME_BYTES: usize = 4 << 20;

/// Migrates `config.path` if it is a wave-1 data directory (see the module
/// docs); does nothing otherwise.
pub fn migrate_if_needed(config: &LogConfig, dirs: &LogDirs) -> Result<(), OpenError> {
    let data = &config.path;
    if !wave1::is_wave1(data) {
        return Ok(());
    }
    let fail = |reason: String| OpenError::Migration {
        path: data.clone(),
        reason,
    };
    if dirs.exists() {
        // The rename (step 4) happened: the new log was verified already.
        tracing::info!("removing the wave-1 files left beside the migrated log");
        return remove_wave1(data).map_err(|e| fail(format!("removing the wave-1 files: {e}")));
    }
    let old = Wave1Log::open(data)?;
    let last = old.last_offset().map_err(|e| fail(e.to_string()))?;
    tracing::info!(
        records = last,
        "migrating a wave-1 event log into segment files"
    );
    let progress = &config.progress;
    progress.start("verifying the wave-1 log", last);
    let report = verify_records(old.records(1), |o| {
        if o % 4096 == 0 {
            progress.advance(o);
        }
    })
    .map_err(|e| {
        fail(format!(
            "the wave-1 log does not verify: offset {}: {}",
            e.offset, e.reason
        ))
    })?;
    progress.finish();

    let tmp = LogDirs::under(data, data.join("log.migrating"));
    if tmp.root.exists() {
        std::fs::remove_dir_all(&tmp.root)
            .map_err(|e| fail(format!("removing an unfinished migration: {e}")))?;
    }
    tmp.create().map_err(|e| fail(e.to_string()))?;
    progress.start("migrating the log", report.count);
    let written = write_records(
        &tmp,
        config,
        old.records(1)
            .map(|r| r.map(|(_, b)| b).map_err(|e| e.to_string())),
        progress,
    )
    .map_err(fail)?;
    progress.finish();
    drop(old);
    if written != (report.count, report.head_hash) {
        return Err(fail(format!(
            "the migrated records differ from the wave-1 ones ({} records, head {} instead of {} records, head {})",
            written.0,
            hex(&written.1),
            report.count,
            hex(&report.head_hash)
        )));
    }
    // Index the new log: this re-reads and re-verifies every record.
    let (count, head_hash) = crate::segment_log::SegmentLog::reindex_at(config, &tmp)
        .map_err(|e| fail(e.to_string()))?;
    if (count, head_hash) != (report.count, report.head_hash) {
        return Err(fail(format!(
            "the migrated log verifies to {count} records, head {} instead of {} records, head {}",
            hex(&head_hash),
            report.count,
            hex(&report.head_hash)
        )));
    }
    std::fs::rename(&tmp.root, &dirs.root)
        .map_err(|e| fail(format!("renaming into place: {e}")))?;
    crate::files::sync_dir(data).map_err(|e| fail(e.to_string()))?;
    remove_wave1(data).map_err(|e| fail(format!("removing the wave-1 files: {e}")))?;
    tracing::info!(
        records = report.count,
        head_hash = %hex(&report.head_hash),
        "migrated the wave-1 event log; it verifies to the same head hash"
    );
    Ok(())
}

fn remove_wave1(data: &Path) -> std::io::Result<()> {
    for p in wave1::wave1_files(data) {
        if p.is_dir() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    crate::files::sync_dir(data)
}

/// Writes records (offsets dense from 1, chained) into fresh segments under
/// `dirs`, one frame per original group commit (consecutive records with
/// the same `recorded_at`, up to 4096 records or 4 MiB), syncing each
/// segment. Checks density and the chain on the way. Returns the count and
/// head hash.
pub(crate) fn write_records(
    dirs: &LogDirs,
    config: &LogConfig,
    records: impl Iterator<Item = Result<Vec<u8>, String>>,
    progress: &Progress,
) -> Result<(u64, [u8; 32]), String> {
    if !crate::segment::list_segments(&dirs.segments)
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Err(format!(
            "{} already holds segments",
            dirs.segments.display()
        ));
    }
    let mut segments = SegmentWriter::create(
        &dirs.segments,
        config.files.0.clone(),
        1,
        config.segment_bytes,
        config.preallocate,
    )
    .map_err(|e| e.to_string())?;
    let mut frame = FrameBuilder::new(1);
    let mut frame_time = None;
    let mut expected = 1u64;
    let mut prev = GENESIS_HASH;
    let flush = |frame: FrameBuilder, segments: &mut SegmentWriter, first: u64| {
        if frame.is_empty() {
            return Ok(());
        }
        segments
            .write(&frame.finish(), first)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let mut frame_first = 1u64;
    for rec in records {
        let rec = rec?;
        codec::check_crc(&rec).map_err(|e| format!("offset {expected}: {e}"))?;
        let view = RecordView::parse(&rec).map_err(|e| format!("offset {expected}: {e}"))?;
        if view.offset != expected {
            return Err(format!(
                "offset {expected} is missing (found {})",
                view.offset
            ));
        }
        if *view.prev_hash != prev {
            return Err(format!("offset {expected}: hash chain broken"));
        }
        let time = view.recorded_at_us;
        let boundary = frame_time != Some(time)
            || frame.count() >= BULK_FRAME_RECORDS
            || frame.len() + rec.len() > BULK_FRAME_BYTES;
        if boundary && !frame.is_empty() {
            let full = std::mem::replace(&mut frame, FrameBuilder::new(expected));
            flush(full, &mut segments, frame_first)?;
            frame_first = expected;
        } else if frame.is_empty() {
            frame = FrameBuilder::new(expected);
            frame_first = expected;
        }
        frame_time = Some(time);
        frame.push(&rec);
        prev = codec::hash_record(&rec);
        if expected.is_multiple_of(4096) {
            progress.advance(expected);
        }
        expected += 1;
    }
    flush(frame, &mut segments, frame_first)?;
    segments.sync().map_err(|e| e.to_string())?;
    Ok((expected - 1, prev))
}
