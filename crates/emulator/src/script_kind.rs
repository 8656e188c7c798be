//! The kinds of server-side script a container keeps (`sprocs`, `triggers`, `udfs`): a
//! leaf, named by request paths (`resource.rs`) and the script store (`scripts.rs`).

/// A kind of server-side script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptKind {
    /// Stored procedures (`sprocs`).
    StoredProcedure,
    /// Triggers (`triggers`).
    Trigger,
    /// User-defined functions (`udfs`).
    UserDefinedFunction,
}

impl ScriptKind {
    /// The path segment (and signed resource type) of this kind's feed.
    pub fn segment(self) -> &'static str {
        match self {
            Self::StoredProcedure => "sprocs",
            Self::Trigger => "triggers",
            Self::UserDefinedFunction => "udfs",
        }
    }

    pub(crate) fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "sprocs" => Some(Self::StoredProcedure),
            "triggers" => Some(Self::Trigger),
            "udfs" => Some(Self::UserDefinedFunction),
            _ => None,
        }
    }
}
