//! Request paths → the resource they address, and the (type, link) pair they sign.

use percent_encoding::percent_decode_str;

use crate::script_kind::ScriptKind;

/// The resource a wire request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/`: the database account.
    Account,
    /// `/dbs`: the database feed.
    Databases,
    /// `/dbs/{db}`.
    Database {
        /// Database id.
        db: String,
    },
    /// `/dbs/{db}/colls`: the container feed.
    Containers {
        /// Database id.
        db: String,
    },
    /// `/dbs/{db}/colls/{coll}`.
    Container {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
    },
    /// `/dbs/{db}/colls/{coll}/docs`: the item feed.
    Items {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
    },
    /// `/dbs/{db}/colls/{coll}/pkranges`: the partition key range feed.
    PartitionKeyRanges {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
    },
    /// `/dbs/{db}/colls/{coll}/conflicts`: the conflict feed (always empty: the emulator
    /// resolves every write by last writer wins).
    Conflicts {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
    },
    /// `/dbs/{db}/colls/{coll}/operations/partitionkeydelete`: delete every item of one
    /// partition key (signed as the container, as SDKs sign it).
    PartitionKeyDelete {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
    },
    /// `/dbs/{db}/users` (`user` `None`) and `/dbs/{db}/users/{user}/permissions`: a
    /// feed of users or of a user's permissions.
    Principals {
        /// Database id.
        db: String,
        /// The user whose permissions these are; `None` for the user feed.
        user: Option<String>,
    },
    /// `/dbs/{db}/users/{id}` (`user` `None`) or `/dbs/{db}/users/{user}/permissions/{id}`.
    Principal {
        /// Database id.
        db: String,
        /// The user whose permission this is; `None` for a user.
        user: Option<String>,
        /// The user's or permission's id.
        id: String,
    },
    /// `/offers`: the offer feed.
    Offers,
    /// `/offers/{rid}`.
    Offer {
        /// The offer's rid.
        rid: String,
    },
    /// `/dbs/{db}/colls/{coll}/{sprocs|triggers|udfs}`: a feed of server-side scripts
    /// (kept and served as resources; never executed).
    Scripts {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
        /// Which scripts.
        kind: ScriptKind,
    },
    /// `/dbs/{db}/colls/{coll}/{sprocs|triggers|udfs}/{id}`.
    Script {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
        /// Which kind of script.
        kind: ScriptKind,
        /// The script's id.
        id: String,
    },
    /// `/dbs/{db}/colls/{coll}/docs/{id}`.
    Item {
        /// Database id.
        db: String,
        /// Container id.
        coll: String,
        /// Item id.
        id: String,
    },
}

/// The counter class of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathClass {
    /// `GET /` and other requests on `/`.
    Account,
    /// Database requests.
    Databases,
    /// Container requests.
    Containers,
    /// Item requests.
    Items,
    /// A request the emulator does not route (counted, answered 404).
    Other,
    /// A request refused by the master-key check (401 or 403).
    RejectedAuth,
    /// The admin API.
    Admin,
}

impl PathClass {
    /// The name used in counters and fault rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Databases => "databases",
            Self::Containers => "containers",
            Self::Items => "items",
            Self::Other => "other",
            Self::RejectedAuth => "rejected_auth",
            Self::Admin => "admin",
        }
    }
}

impl Resource {
    /// Parses a request path (`/dbs/a/colls/b`); `None` for paths the emulator does not
    /// serve. Segments are percent-decoded; a trailing slash is ignored.
    pub fn parse(path: &str) -> Option<Self> {
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Some(Self::Account);
        }
        let mut segments = Vec::new();
        for raw in trimmed.split('/') {
            let segment = percent_decode_str(raw).decode_utf8().ok()?;
            if segment.is_empty() {
                return None;
            }
            segments.push(segment.into_owned());
        }
        let kinds: Vec<&str> = segments.iter().step_by(2).map(String::as_str).collect();
        let mut ids = segments.iter().skip(1).step_by(2).cloned();
        let resource = match (kinds.as_slice(), segments.len()) {
            (["dbs", "users"], 3) => Self::Principals {
                db: ids.next()?,
                user: None,
            },
            (["dbs", "users"], 4) => Self::Principal {
                db: ids.next()?,
                user: None,
                id: ids.next()?,
            },
            (["dbs", "users", "permissions"], 5) => Self::Principals {
                db: ids.next()?,
                user: Some(ids.next()?),
            },
            (["dbs", "users", "permissions"], 6) => Self::Principal {
                db: ids.next()?,
                user: Some(ids.next()?),
                id: ids.next()?,
            },
            (["offers"], 1) => Self::Offers,
            (["offers"], 2) => Self::Offer { rid: ids.next()? },
            (["dbs"], 1) => Self::Databases,
            (["dbs"], 2) => Self::Database { db: ids.next()? },
            (["dbs", "colls"], 3) => Self::Containers { db: ids.next()? },
            (["dbs", "colls"], 4) => Self::Container {
                db: ids.next()?,
                coll: ids.next()?,
            },
            (["dbs", "colls", "docs"], 5) => Self::Items {
                db: ids.next()?,
                coll: ids.next()?,
            },
            (["dbs", "colls", "pkranges"], 5) => Self::PartitionKeyRanges {
                db: ids.next()?,
                coll: ids.next()?,
            },
            (["dbs", "colls", "conflicts"], 5) => Self::Conflicts {
                db: ids.next()?,
                coll: ids.next()?,
            },
            (["dbs", "colls", "operations"], 6) if segments[5] == "partitionkeydelete" => {
                Self::PartitionKeyDelete {
                    db: ids.next()?,
                    coll: ids.next()?,
                }
            }
            (["dbs", "colls", kind], 5) if ScriptKind::from_segment(kind).is_some() => {
                Self::Scripts {
                    db: ids.next()?,
                    coll: ids.next()?,
                    kind: ScriptKind::from_segment(kind)?,
                }
            }
            (["dbs", "colls", kind], 6) if ScriptKind::from_segment(kind).is_some() => {
                Self::Script {
                    db: ids.next()?,
                    coll: ids.next()?,
                    kind: ScriptKind::from_segment(kind)?,
                    id: ids.next()?,
                }
            }
            (["dbs", "colls", "docs"], 6) => Self::Item {
                db: ids.next()?,
                coll: ids.next()?,
                id: ids.next()?,
            },
            _ => return None,
        };
        Some(resource)
    }

    /// The resource type and link a client signs for this resource: a feed signs its
    /// parent's link; the account signs empty strings.
    pub fn signing_parts(&self) -> (&'static str, String) {
        let (kind, link) = self.signing_parts_by_name();
        // A path by rids (`dbs/{rid}/colls/{rid}/docs/{rid}`, `offers/{rid}`) signs the rid
        // of the resource it names (for a feed, of the feed's owner) alone and in lower
        // case, as SDKs sign it.
        let by_rids = link.strip_prefix("dbs/").is_some_and(|rest| {
            crate::rid::is_rid_path(rest.split('/').next().unwrap_or_default())
        });
        if by_rids || matches!(self, Self::Offer { .. }) {
            let last = link.rsplit('/').next().unwrap_or_default().to_lowercase();
            return (kind, last);
        }
        (kind, link)
    }

    fn signing_parts_by_name(&self) -> (&'static str, String) {
        match self {
            Self::Account => ("", String::new()),
            Self::Databases => ("dbs", String::new()),
            Self::Offers => ("offers", String::new()),
            Self::Principals { db, user: None } => ("users", format!("dbs/{db}")),
            Self::Principals {
                db,
                user: Some(user),
            } => ("permissions", format!("dbs/{db}/users/{user}")),
            Self::Principal { db, user: None, id } => ("users", format!("dbs/{db}/users/{id}")),
            Self::Principal {
                db,
                user: Some(user),
                id,
            } => (
                "permissions",
                format!("dbs/{db}/users/{user}/permissions/{id}"),
            ),
            Self::Offer { rid } => ("offers", rid.clone()),
            Self::Database { db } => ("dbs", format!("dbs/{db}")),
            Self::Containers { db } => ("colls", format!("dbs/{db}")),
            Self::Container { db, coll } => ("colls", format!("dbs/{db}/colls/{coll}")),
            Self::Items { db, coll } => ("docs", format!("dbs/{db}/colls/{coll}")),
            Self::PartitionKeyRanges { db, coll } => ("pkranges", format!("dbs/{db}/colls/{coll}")),
            Self::Conflicts { db, coll } => ("conflicts", format!("dbs/{db}/colls/{coll}")),
            Self::PartitionKeyDelete { db, coll } => ("colls", format!("dbs/{db}/colls/{coll}")),
            Self::Item { db, coll, id } => ("docs", format!("dbs/{db}/colls/{coll}/docs/{id}")),
            Self::Scripts { db, coll, kind } => (kind.segment(), format!("dbs/{db}/colls/{coll}")),
            Self::Script { db, coll, kind, id } => (
                kind.segment(),
                format!("dbs/{db}/colls/{coll}/{}/{id}", kind.segment()),
            ),
        }
    }

    /// The counter class.
    pub fn class(&self) -> PathClass {
        match self {
            Self::Account => PathClass::Account,
            Self::Databases
            | Self::Database { .. }
            | Self::Offers
            | Self::Offer { .. }
            | Self::Principals { .. }
            | Self::Principal { .. } => PathClass::Databases,
            Self::Containers { .. }
            | Self::Container { .. }
            | Self::PartitionKeyRanges { .. }
            | Self::Conflicts { .. }
            | Self::Scripts { .. }
            | Self::Script { .. } => PathClass::Containers,
            Self::Items { .. } | Self::Item { .. } | Self::PartitionKeyDelete { .. } => {
                PathClass::Items
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_resources_and_signing_parts() {
        let cases = [
            ("/", "", ""),
            ("/dbs", "dbs", ""),
            ("/dbs/d1", "dbs", "dbs/d1"),
            ("/dbs/d1/colls", "colls", "dbs/d1"),
            ("/dbs/d1/colls/c1/", "colls", "dbs/d1/colls/c1"),
            ("/dbs/d1/colls/c1/docs", "docs", "dbs/d1/colls/c1"),
            ("/dbs/d1/colls/c1/pkranges", "pkranges", "dbs/d1/colls/c1"),
            ("/dbs/d1/colls/c1/conflicts", "conflicts", "dbs/d1/colls/c1"),
            ("/dbs/AAAAAA==/colls/AAAAAAAAAAA=/docs/xY1", "docs", "xy1"),
            (
                "/dbs/AAAAAA==/colls/AAAAAAAAAAA=/docs",
                "docs",
                "aaaaaaaaaaa=",
            ),
            ("/offers/AbC=", "offers", "abc="),
            ("/dbs/d1/colls/c1/sprocs", "sprocs", "dbs/d1/colls/c1"),
            (
                "/dbs/d1/colls/c1/udfs/u1",
                "udfs",
                "dbs/d1/colls/c1/udfs/u1",
            ),
            (
                "/dbs/d1/colls/c1/operations/partitionkeydelete",
                "colls",
                "dbs/d1/colls/c1",
            ),
            (
                "/dbs/d1/colls/c1/docs/my%20item",
                "docs",
                "dbs/d1/colls/c1/docs/my item",
            ),
        ];
        for (path, kind, link) in cases {
            let resource = Resource::parse(path).unwrap();
            assert_eq!(resource.signing_parts(), (kind, link.to_string()), "{path}");
        }
    }

    #[test]
    fn unknown_paths_are_none() {
        for path in [
            "/foo",
            "/dbs/a/b",
            "/dbs//colls",
            "/dbs/a/colls/b/docs/c/d",
            "/dbs/%ff",
        ] {
            assert_eq!(Resource::parse(path), None, "{path}");
        }
    }
}
