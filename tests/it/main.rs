//! Integration tests: one binary, a module per area.

mod support;

mod advice;
mod closure;
mod corpus;
mod fixtures;
mod hostile;
#[cfg(feature = "image")]
mod image;
mod malformed;
mod proof;
mod real;
mod rootmodel;
mod synth;

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "schema")]
mod schema;

#[global_allocator]
static ALLOC: support::TrackingAlloc = support::TrackingAlloc;
