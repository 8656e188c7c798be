//! The account's default consistency level: [`Consistency`].

use std::fmt;
use std::str::FromStr;

/// The account's default consistency level, as `userConsistencyPolicy` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Consistency {
    /// Reads never see stale data: the lag is not observable.
    Strong,
    /// Reads see their region's view; a session token the region has not reached yet is
    /// answered 404/1002. The default.
    #[default]
    Session,
    /// Reads see their region's view (session tokens are honoured when sent).
    Eventual,
}

impl Consistency {
    /// The name the account document uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strong => "Strong",
            Self::Session => "Session",
            Self::Eventual => "Eventual",
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "strong" => Ok(Self::Strong),
            "session" => Ok(Self::Session),
            "eventual" => Ok(Self::Eventual),
            _ => Err(format!(
                "unknown consistency `{text}`: expected Strong, Session or Eventual"
            )),
        }
    }
}
