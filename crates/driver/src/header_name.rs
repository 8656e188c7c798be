//! A header's name made at compile time: an operation's own headers (partition key,
//! continuation, conditions...) are named by [`header_name!`], never parsed per request.

use http::HeaderName;

/// A header's name, made at compile time by [`header_name!`], with its text for errors
/// (`from_static` at run time validates the name on every call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) text: &'static str,
    pub(crate) name: HeaderName,
}

impl Name {
    /// Panics on a name HTTP cannot carry: use it in a constant (as [`header_name!`]
    /// does), so the panic is a compile error.
    pub(crate) const fn new(text: &'static str) -> Self {
        Self {
            text,
            name: HeaderName::from_static(text),
        }
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

/// `header_name!("if-match")`: the [`Name`], made at compile time.
macro_rules! header_name {
    ($text:literal) => {{
        const NAME: $crate::header_name::Name = $crate::header_name::Name::new($text);
        NAME
    }};
}
pub(crate) use header_name;
