//! The one integration test binary (one link step): a module per area. CLI tests run the real
//! `mapsync` binary in a temporary directory with a cleared environment and pin its exact
//! stdout, stderr and exit code.

mod api_answers;
mod cli;
mod compile_reference;
mod connector;
mod demo;
mod docs;
mod engine_reference;
mod fuzz;
mod mapping_tests;
mod pg;
mod pipedrive;
mod roundtrip;
mod schema;
mod serve;
mod setup;
mod state_file;
mod state_migrate;
mod sync;
mod util;
mod validate;
