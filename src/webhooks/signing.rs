//! Signing deliveries so a receiver can tell they come from switchboard and
//! are fresh.
//!
//! Each tenant has its own signing secret, `whsec_` + 64 hex digits, derived
//! as `HMAC-SHA256(master key, "switchboard-webhook:" + tenant id)`. The
//! master key is `webhook_secret` (hashed) or a random key kept in
//! `<data_dir>/webhook.key` (0600), so no per-tenant state is stored and a
//! secret never enters the log. A tenant administrator reads the secret
//! with `GET /api/webhooks`.
//!
//! Every delivery carries
//!
//! ```text
//! Switchboard-Event-Id: <tenant id>:<offset>
//! Switchboard-Timestamp: <unix seconds>
//! Switchboard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//! ```
//!
//! The key is the secret string's bytes as shown. A receiver recomputes the
//! MAC over the raw body, compares in constant time, and refuses a
//! timestamp more than 5 minutes from its own clock: a captured delivery
//! cannot be replayed later, and the timestamp cannot be changed without
//! breaking the MAC. Retries are signed afresh with their own timestamp.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchboard_events::TenantId;

type HmacSha256 = Hmac<Sha256>;

/// Header names.
pub const EVENT_ID_HEADER: &str = "switchboard-event-id";
/// The signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "switchboard-timestamp";
/// `v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "switchboard-signature";

/// The master key webhook secrets derive from.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// From the raw key bytes.
    pub fn new(key: [u8; 32]) -> MasterKey {
        MasterKey(key)
    }

    /// The signing secret of a tenant.
    pub fn tenant_secret(&self, tenant: TenantId) -> String {
        let mac = mac(
            &self.0,
            format!("switchboard-webhook:{}", tenant.0).as_bytes(),
        );
        format!("whsec_{}", hex(&mac))
    }
}

fn mac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(data);
    m.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Switchboard-Signature` value of `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut data = format!("{timestamp}.").into_bytes();
    data.extend_from_slice(body);
    format!("v1={}", hex(&mac(secret.as_bytes(), &data)))
}

/// Checks a delivery as a receiver would (used by tests; also a reference
/// for integrators): the MAC matches and the timestamp is within
/// `tolerance_secs` of `now`.
pub fn verify(
    secret: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Some(given) = header.strip_prefix("v1=") else {
        return false;
    };
    let Some(given) = (0..given.len())
        .step_by(2)
        .map(|i| {
            given
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut data = format!("{timestamp}.").into_bytes();
    data.extend_from_slice(body);
    let mut m =
        <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    m.update(&data);
    // `verify_slice` compares in constant time.
    m.verify_slice(&given).is_ok() && (now - timestamp).abs() <= tolerance_secs
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_events::Id;

    #[test]
    fn secrets_differ_per_tenant_and_per_master_key() {
        let a = MasterKey::new([1; 32]);
        let b = MasterKey::new([2; 32]);
        let s = a.tenant_secret(Id(5));
        assert!(s.starts_with("whsec_") && s.len() == 6 + 64, "{s}");
        assert_ne!(s, a.tenant_secret(Id(6)));
        assert_ne!(s, b.tenant_secret(Id(5)));
        assert_eq!(
            s,
            MasterKey::new([1; 32]).tenant_secret(Id(5)),
            "derived, not random"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value computed independently:
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test'
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn verification_refuses_tampering_other_secrets_and_stale_timestamps() {
        let body = br#"{"id":"NTY=:1"}"#;
        let sig = signature("whsec_a", 1000, body);
        assert!(verify("whsec_a", 1000, body, &sig, 1100, 300));
        assert!(
            !verify("whsec_b", 1000, body, &sig, 1100, 300),
            "other secret"
        );
        assert!(
            !verify("whsec_a", 1001, body, &sig, 1100, 300),
            "timestamp changed"
        );
        assert!(
            !verify("whsec_a", 1000, b"{}", &sig, 1100, 300),
            "body changed"
        );
        assert!(
            !verify("whsec_a", 1000, body, &sig, 1301, 300),
            "replayed too late"
        );
        assert!(
            !verify("whsec_a", 1000, body, "v1=zz", 1000, 300),
            "garbage"
        );
        assert!(
            !verify("whsec_a", 1000, body, "sha1=00", 1000, 300),
            "unknown scheme"
        );
    }
}
