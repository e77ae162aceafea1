//! `Mapping`: the validated, compiled model the engine, connector and server work from.

/// A validated mapping.
#[derive(Debug)]
pub struct Mapping {}
