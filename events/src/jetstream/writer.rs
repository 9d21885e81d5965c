//! The JetStream writer: one task that turns queued appends into group
//! commits, one stream message each.
//!
//! For each group: check every append's expectations (and its decision's
//! basis) against the mirror, frame the survivors at the mirror's head,
//! publish with `Nats-Expected-Last-Sequence` = the mirror's last stream
//! sequence and a fresh commit id, and then
//! - stored: the commit is the next message; apply it, acknowledge;
//! - wrong last sequence (another node won the race): fetch what won,
//!   check the appends again and retry with what still holds;
//! - no answer (timeout, lost connection): publish the same message again
//!   until the server answers (a duplicate means it had landed); refuse
//!   new appends meanwhile.

use super::mirror::{Message, Mirror};
use super::Shared;
use crate::codec::{self, RecordParts};
use crate::frame::FrameBuilder;
use crate::ids::StreamId;
use crate::log::{AppendError, AppendRequest, Appended, Basis, CommitStats};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// One queued append.
pub(crate) struct Job {
    pub(crate) request: AppendRequest,
    pub(crate) basis: Option<Basis>,
    pub(crate) reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// How many times an unanswered publish is retried after the log closed
/// before its appends are answered `Unavailable` (outcome unknown).
const RETRIES_AFTER_CLOSE: u32 = 3;

/// Bytes of a message kept for its headers and the frame header.
const PAYLOAD_HEADROOM: usize = 8 * 1024;

/// An upper bound of the bytes `request` takes in a frame: each record is
/// its strings and payload plus the fixed fields (offset, versions, time,
/// tenant, ids: varints), the previous hash, the CRC and its length prefix.
fn estimated_bytes(request: &AppendRequest) -> usize {
    let m = &request.metadata;
    let meta = m.actor_name.len() + m.via.len() + m.request_id.as_ref().map_or(0, String::len) + 32;
    request
        .events
        .iter()
        .map(|e| e.payload.len() + e.stream.as_str().len() + e.event_type.len() + meta + 96)
        .sum()
}

/// The writer task.
pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut closing = shared.closing.subscribe();
    // The inbox prefix is a fresh random id (nuid): commit ids of two
    // processes never collide.
    let inbox = shared.client.new_inbox();
    let tag = format!(
        "{}-{}",
        shared.config.node,
        inbox.rsplit('.').next().unwrap_or(&inbox)
    );
    let mut counter = 0u64;
    let mut carry: VecDeque<Job> = VecDeque::new();
    let payload_limit = shared
        .client
        .server_info()
        .max_payload
        .saturating_sub(PAYLOAD_HEADROOM);
    loop {
        if carry.is_empty() {
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => carry.push_back(job),
                    None => break,
                },
                _ = closing.wait_for(|c| *c) => break,
            }
        }
        while let Ok(job) = rx.try_recv() {
            carry.push_back(job);
        }
        let mut group = Vec::new();
        let (mut events, mut bytes) = (0, 0);
        while let Some(job) = carry.front() {
            let n = job.request.events.len();
            let b = estimated_bytes(&job.request);
            // A group is one message: it must fit the servers' max_payload
            // (a single append larger than that is refused on its own).
            if !group.is_empty()
                && (events + n > shared.config.max_batch || bytes + b > payload_limit)
            {
                break;
            }
            events += n;
            bytes += b;
            group.extend(carry.pop_front());
        }
        commit(&shared, group, &tag, &mut counter).await;
    }
    rx.close();
    let refused = carry
        .into_iter()
        .chain(std::iter::from_fn(|| rx.try_recv().ok()));
    for job in refused {
        let _ = job
            .reply
            .send(Err(AppendError::Unavailable("the log is closed".into())));
    }
}

/// The appends of a group framed at the mirror's head.
struct Framed {
    frame: Bytes,
    expected_seq: u64,
    accepted: Vec<(Job, Appended)>,
    events: usize,
}

fn refuse(jobs: Vec<Job>, reason: &str) {
    for job in jobs {
        let _ = job
            .reply
            .send(Err(AppendError::Unavailable(reason.to_owned())));
    }
}

async fn commit(shared: &Shared, mut group: Vec<Job>, tag: &str, counter: &mut u64) {
    loop {
        if let Some(reason) = shared.failure.lock().clone() {
            return refuse(group, &reason);
        }
        let framed = {
            let mirror = shared.mirror.read();
            frame_group(&mirror, group)
        };
        let Some(framed) = framed else { return };
        if framed.expected_seq == 0 {
            let jobs = framed.accepted.into_iter().map(|(j, _)| j).collect();
            return refuse(jobs, "the stream has no genesis marker");
        }
        *counter += 1;
        let id = format!("{tag}-{counter}");
        let started = Instant::now();
        match publish(shared, &framed, &id).await {
            Outcome::Landed(seq) => {
                let applied = {
                    let known = shared.mirror.read().last_seq();
                    if known >= seq {
                        Ok(())
                    } else {
                        shared.apply(&Message {
                            seq,
                            commit_id: Some(&id),
                            marker: false,
                            payload: &framed.frame,
                        })
                    }
                };
                if let Err(e) = applied {
                    let jobs = framed.accepted.into_iter().map(|(j, _)| j).collect();
                    return refuse(jobs, &e.to_string());
                }
                let stats = CommitStats {
                    appends: framed.accepted.len(),
                    events: framed.events,
                    fsync: started.elapsed(),
                    head: framed
                        .accepted
                        .last()
                        .map_or(0, |(_, appended)| appended.last_offset),
                    // The publish round trip is the commit's durability
                    // (`fsync`); framing, write and acknowledgement are the
                    // local writer's split and are not timed here.
                    ..CommitStats::default()
                };
                for (job, appended) in framed.accepted {
                    let _ = job.reply.send(Ok(appended));
                }
                if let Some(observer) = &shared.config.observer {
                    observer.committed(&stats);
                }
                return;
            }
            Outcome::Lost => {
                tracing::debug!("a commit lost the race for the stream; checking again");
                group = framed.accepted.into_iter().map(|(j, _)| j).collect();
            }
            Outcome::Failed(reason) => {
                let jobs = framed.accepted.into_iter().map(|(j, _)| j).collect();
                return refuse(jobs, &reason);
            }
        }
    }
}

enum Outcome {
    /// Stored at this stream sequence.
    Landed(u64),
    /// Another commit took the sequence; the mirror has caught up.
    Lost,
    /// Not stored, or unknown after the log closed.
    Failed(String),
}

/// Publishes `framed` until its outcome is known.
async fn publish(shared: &Shared, framed: &Framed, id: &str) -> Outcome {
    let mut backoff = Duration::from_millis(20);
    let mut retries_after_close = 0;
    loop {
        let message = PublishMessage::build()
            .payload(framed.frame.clone())
            .message_id(id)
            .expected_last_sequence(framed.expected_seq);
        let sent = async {
            let ack = shared
                .js
                .send_publish(shared.config.subject(), message)
                .await?;
            ack.await
        };
        let error = match sent.await {
            Ok(ack) => {
                shared.saw(ack.sequence);
                shared.unsure.store(false, Ordering::Release);
                return Outcome::Landed(ack.sequence);
            }
            Err(e) => e,
        };
        match error.kind() {
            PublishErrorKind::WrongLastSequence => {
                shared.unsure.store(false, Ordering::Release);
                // Something is at our sequence: learn what, and whether it
                // is this very commit (a retry of a publish that had landed).
                if let Err(e) = shared.catch_up().await {
                    shared.unsure.store(true, Ordering::Release);
                    tracing::warn!(error = %e, "cannot catch up with the stream; retrying");
                } else {
                    let ours = framed.expected_seq + 1;
                    let mirror = shared.mirror.read();
                    if mirror.commit_at(ours) == Some(Some(id)) {
                        return Outcome::Landed(ours);
                    }
                    return Outcome::Lost;
                }
            }
            PublishErrorKind::MaxPayloadExceeded => {
                return Outcome::Failed(format!(
                    "the commit ({} bytes) exceeds the servers' max_payload",
                    framed.frame.len()
                ));
            }
            PublishErrorKind::StreamNotFound
            | PublishErrorKind::TimedOut
            | PublishErrorKind::BrokenPipe
            | PublishErrorKind::MaxAckPending
            | PublishErrorKind::WrongLastMessageId
            | PublishErrorKind::Other => {
                // The server may or may not have stored it.
                shared.unsure.store(true, Ordering::Release);
                tracing::warn!(error = %error, commit = id, "a commit's outcome is unknown; publishing it again");
            }
        }
        if shared.closed.load(Ordering::Acquire) {
            retries_after_close += 1;
            if retries_after_close > RETRIES_AFTER_CLOSE {
                return Outcome::Failed(format!(
                    "the log closed while the outcome of commit {id} was unknown"
                ));
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Checks each append against the mirror (and the appends framed before it
/// in the group), frames the ones that hold, and answers the others.
fn frame_group(mirror: &Mirror, group: Vec<Job>) -> Option<Framed> {
    let first_offset = mirror.head() + 1;
    let now_us = codec::to_micros(OffsetDateTime::now_utc());
    let recorded_at_us = now_us.max(mirror.last_time_us());
    let recorded_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(recorded_at_us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut builder = FrameBuilder::new(first_offset);
    let mut staged: HashMap<StreamId, u64> = HashMap::new();
    let mut next = first_offset;
    let mut hash = mirror.last_hash();
    let mut accepted = Vec::new();
    let mut events = 0;
    for job in group {
        let version = |staged: &HashMap<StreamId, u64>, s: &StreamId| {
            staged.get(s).copied().unwrap_or_else(|| mirror.version(s))
        };
        if let Err(e) = check(mirror, &staged, &job, version) {
            let _ = job.reply.send(Err(e));
            continue;
        }
        let (len, count) = (builder.len(), builder.count());
        let mut job_staged: HashMap<StreamId, u64> = HashMap::new();
        let (mut offset, mut h) = (next, hash);
        let mut failed = None;
        for ev in &job.request.events {
            let v = job_staged
                .get(&ev.stream)
                .copied()
                .unwrap_or_else(|| version(&staged, &ev.stream))
                + 1;
            match codec::encode_record(&RecordParts::of_event(
                ev,
                &job.request.metadata,
                offset,
                v,
                recorded_at_us,
                &h,
            )) {
                Ok((bytes, record_hash)) => {
                    builder.push(&bytes);
                    job_staged.insert(ev.stream.clone(), v);
                    h = record_hash;
                    offset += 1;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            builder.rollback(len, count);
            let _ = job.reply.send(Err(AppendError::Unavailable(format!(
                "encoding failed: {e}"
            ))));
            continue;
        }
        events += job.request.events.len();
        staged.extend(job_staged);
        accepted.push((
            job,
            Appended {
                first_offset: next,
                last_offset: offset - 1,
                recorded_at,
            },
        ));
        next = offset;
        hash = h;
    }
    if accepted.is_empty() {
        return None;
    }
    Some(Framed {
        frame: Bytes::from(builder.finish()),
        expected_seq: mirror.last_seq(),
        accepted,
        events,
    })
}

/// An append's expectations and basis against the mirror plus `staged`.
fn check(
    mirror: &Mirror,
    staged: &HashMap<StreamId, u64>,
    job: &Job,
    version: impl Fn(&HashMap<StreamId, u64>, &StreamId) -> u64,
) -> Result<(), AppendError> {
    for (stream, expected) in &job.request.expected {
        let actual = version(staged, stream);
        if !expected.holds(actual) {
            return Err(AppendError::Conflict {
                stream: stream.clone(),
                expected: *expected,
                actual,
            });
        }
    }
    if let Some(basis) = &job.basis {
        for tenant in &basis.tenants {
            let latest = mirror.tenant_last(*tenant);
            if latest > basis.offset {
                return Err(AppendError::Stale {
                    tenant: *tenant,
                    decided_at: basis.offset,
                    latest,
                });
            }
        }
    }
    Ok(())
}
