//! Why the emulator could not start or refused a control call.

use crate::topology::TopologyError;

/// Why the emulator could not start or refused a control call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A master key (primary or secondary) is not valid base64.
    #[error("the master key is not valid base64")]
    InvalidKey,
    /// The master key is empty: every request signed with the empty key would pass.
    #[error("the master key is empty; give a base64 key (or omit it for the well-known key)")]
    EmptyKey,
    /// A setting is unusable.
    #[error("invalid emulator setting: {0}")]
    Config(String),
    /// A topology change was refused, or a listener could not be bound.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// A fault rule was refused.
    #[error("invalid fault rule: {0}")]
    Fault(String),
    /// A partition key range operation (split, merge, fail) was refused.
    #[error("partition key range operation refused: {0}")]
    Partition(String),
}
