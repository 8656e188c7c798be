//! Region names that compare canonically ("West US 2" = "westus2").

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An Azure region name as the account document or the user spells it.
///
/// Equality and hashing use the canonical form: ASCII letters and digits only,
/// lowercased, so `"West US 2"`, `"westus2"` and `"WEST-US-2"` are the same region.
///
/// ```
/// use meridian_location_store::RegionName;
/// assert_eq!(RegionName::new("West US 2"), RegionName::new("westus2"));
/// assert_eq!(RegionName::new("West US 2").as_str(), "West US 2");
/// ```
#[derive(Clone)]
pub struct RegionName {
    display: Arc<str>,
    canonical: Arc<str>,
}

impl RegionName {
    /// A region name as given.
    pub fn new(name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let canonical: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Self {
            display: Arc::from(name),
            canonical: Arc::from(canonical),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The canonical form used for comparison.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

impl PartialEq for RegionName {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for RegionName {}

impl Hash for RegionName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

impl fmt::Debug for RegionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.display, f)
    }
}

impl fmt::Display for RegionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl From<&str> for RegionName {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

/// So `preferred_regions(vec_of_strings)` compiles as `preferred_regions(["East US"])` does.
impl From<String> for RegionName {
    fn from(name: String) -> Self {
        Self::new(&name)
    }
}

impl From<&String> for RegionName {
    fn from(name: &String) -> Self {
        Self::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_comparison_ignores_case_spaces_and_punctuation() {
        for (a, b) in [
            ("West US 2", "westus2"),
            ("East US", "EASTUS"),
            ("North Europe", "north-europe"),
        ] {
            assert_eq!(RegionName::new(a), RegionName::new(b), "{a} vs {b}");
        }
        assert_ne!(RegionName::new("West US"), RegionName::new("West US 2"));
    }
}
