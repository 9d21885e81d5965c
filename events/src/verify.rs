//! Full verification of a log: every record's CRC, dense offsets from 1,
//! each record's claimed offset, and the hash chain end to end.

use crate::codec::{self, GENESIS_HASH};
use crate::log::LogError;

/// What a clean verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records.
    pub count: u64,
    /// Hash of the last record (genesis hash for an empty log).
    pub head_hash: [u8; 32],
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {reason}")]
pub struct VerifyError {
    /// The first bad offset.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// Verifies records given as `(key offset, bytes)` in key order, calling
/// `progress` with each verified offset.
pub fn verify_records<I, B>(
    records: I,
    mut progress: impl FnMut(u64),
) -> Result<VerifyReport, VerifyError>
where
    I: IntoIterator<Item = Result<(u64, B), LogError>>,
    B: AsRef<[u8]>,
{
    let mut expected = 1u64;
    let mut prev = GENESIS_HASH;
    for item in records {
        let (offset, bytes) = item.map_err(|e| match e {
            LogError::Corrupt { offset, reason } => VerifyError { offset, reason },
            LogError::Storage(reason) => VerifyError {
                offset: expected,
                reason,
            },
        })?;
        if offset != expected {
            return Err(VerifyError {
                offset: expected,
                reason: format!("record missing (next present is {offset})"),
            });
        }
        let env = codec::decode_record(bytes.as_ref()).map_err(|e| VerifyError {
            offset,
            reason: e.to_string(),
        })?;
        if env.offset != offset {
            return Err(VerifyError {
                offset,
                reason: format!("record claims offset {}", env.offset),
            });
        }
        if env.prev_hash != prev {
            return Err(VerifyError {
                offset,
                reason: format!(
                    "hash chain broken: prev_hash does not match the hash of record {} \
                     (that record was altered with a recomputed checksum, or records were \
                     removed or reordered before this one)",
                    offset - 1
                ),
            });
        }
        prev = env.hash;
        progress(offset);
        expected += 1;
    }
    Ok(VerifyReport {
        count: expected - 1,
        head_hash: prev,
    })
}

/// Lower-case hex of a hash.
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
