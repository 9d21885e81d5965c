//! Black-box HTTP tests: each test spawns the service on port 0 with a
//! fresh temporary data directory. One binary, one module per feature.

mod helpers;

mod auth;
mod cross_dialect;
mod extensions;
mod group_members;
mod groups;
mod links;
mod roles;
mod service;
mod tenants;
mod users;
mod vendor_client_users;
mod vendor_common;
mod vendor_etelecom;
mod vendor_user_extensions;
mod vendor_voipappz;
