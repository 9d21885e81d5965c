//! jemalloc's compiled-in options, for every binary that uses jemalloc as
//! its global allocator (the service and the benches that measure it):
//! `#[path]`-included by each, since the symbol must be in the binary.
//!
//! `thp:always` backs jemalloc's memory with transparent huge pages (2 MiB)
//! where the kernel allows it (`madvise` or `always` in
//! `/sys/kernel/mm/transparent_hugepage/enabled`). Applying events touches
//! a random user's row, its fields and index nodes per event: at 200k users
//! that is hundreds of MB visited at random, and with 4 KiB pages nearly
//! every access missed the TLB (costly in a virtual machine, where a page
//! walk is two-dimensional). Replaying 10M events measured 27% less CPU
//! per event with it (BENCHMARKS.md, "Replay, session 7"). The environment
//! still overrides it (`_RJEM_MALLOC_CONF=thp:default`).

/// Read by jemalloc at start-up (`malloc_conf`, with the `_rjem_` prefix
/// of `tikv-jemalloc-sys`): a NUL-terminated option string.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &u8 = &b"thp:always,metadata_thp:always\0"[0];
