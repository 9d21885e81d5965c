//! Black-box HTTP tests: each test spawns the service on port 0 with a
//! fresh temporary data directory. One binary, one module per feature.

mod helpers;
#[path = "../support/receiver.rs"]
mod receiver;

mod agents;
mod audit;
mod auth;
mod balance;
mod business_contacts;
mod call_history;
mod contacts;
mod cors;
mod cross_dialect;
mod extension_contacts;
mod extensions;
mod failures;
mod faults;
mod files;
mod fuzz;
mod group_members;
mod groups;
mod limits;
mod links;
mod matrix;
mod meetings;
mod metrics;
mod openapi;
mod presence;
mod privilege;
mod queues;
mod recordings;
mod ring_groups;
mod roles;
mod secrets;
mod service;
mod settings;
mod simulator;
mod sse;
mod streams;
mod sync;
mod tenants;
mod throttle;
mod users;
mod users_bulk;
mod vendor_client_users;
mod vendor_common;
mod vendor_etelecom;
mod vendor_isolation;
mod vendor_user_extensions;
mod vendor_voipappz;
mod waiting;
mod webhooks;
mod world;
