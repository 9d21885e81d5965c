//! `scripts/pbx-simulator.py` played live against a spawned server: it
//! reports registrations, call state, waiting callers, CDRs, messages and
//! recordings as the PBX (twice where idempotency must hold), then reads
//! everything back as the tenant's Admin, audio bytes included, and exits
//! non-zero on any unexpected answer. The test also checks the counts.

use crate::helpers::spawn_app;
use crate::queues::{create_queue, json_of, user_with_role};

#[tokio::test]
async fn the_pbx_simulator_plays_calls_and_every_report_reads_back() {
    let app = spawn_app().await;
    let t = app.tenant("sim.example").await;
    user_with_role(&app, &t, "pbx", "190", "Replicator").await;
    for (name, number) in [("ann", "101"), ("bob", "102"), ("carl", "103")] {
        user_with_role(&app, &t, name, number, "StandardUser").await;
    }
    create_queue(&app, &t.admin, "Support", "800").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pbx-simulator.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--base", &app.url(""), "--domain", "sim.example"])
        .args(["--user", "pbx", "--password", "Passw0rd-123"])
        .args(["--numbers", "101,102,103", "--calls", "6", "--queue", "800"])
        .args(["--check-user", "boss", "--check-password", "Passw0rd-123"])
        .output()
        .await
        .expect("python3 runs the simulator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "simulator failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("checked 6 CDRs, 2 messages, 3 recordings, 6 waiting callers"),
        "{stdout}"
    );
    let count = |path: &'static str| {
        let (app, admin) = (&app, t.admin.clone());
        async move { json_of(app.get(path, Some(&admin)).await).await["count"].clone() }
    };
    assert_eq!(count("/api/cdrs").await, 6);
    assert_eq!(count("/api/external_messages").await, 2);
    assert_eq!(count("/api/recordings").await, 3);
}
