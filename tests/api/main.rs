//! Black-box HTTP tests: each test spawns the service on port 0 with a
//! fresh temporary data directory. One binary, one module per feature.

mod helpers;

mod audit;
mod auth;
mod extensions;
mod group_members;
mod groups;
mod links;
mod roles;
mod service;
mod tenants;
mod users;
