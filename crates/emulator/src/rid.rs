//! Resource ids as the service makes them: base64 of a database's 4 bytes, a container's 8
//! (its database's and 4 of its own) and an item's 16 (its container's and 8 of its own),
//! with `/` written `-`. SDKs read a container's rid out of an item's `_self` link
//! (`dbs/{db rid}/colls/{coll rid}/docs/{item rid}/`) to key their session tokens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes).replace('/', "-")
}

fn decode(rid: &str) -> Vec<u8> {
    STANDARD.decode(rid.replace('-', "/")).unwrap_or_default()
}

/// `owner`'s bytes (a rid of `owner_len` bytes, or fresh ones if it is not one) followed by
/// `own` fresh random bytes.
fn child(owner: &str, owner_len: usize, own: usize) -> String {
    let mut bytes = decode(owner);
    if bytes.len() != owner_len {
        bytes = (0..owner_len).map(|_| fastrand::u8(..)).collect();
    }
    bytes.extend((0..own).map(|_| fastrand::u8(..)));
    encode(&bytes)
}

/// Whether a path whose database segment is `db` addresses by rids, by the SDKs' rule: a
/// database rid is 8 characters of base64.
pub(crate) fn is_rid_path(db: &str) -> bool {
    db.len() == 8 && STANDARD.decode(db.replace('-', "/")).is_ok()
}

/// A new database's rid.
pub(crate) fn database() -> String {
    child("", 0, 4)
}

/// A new container's rid in the database whose rid is `db`.
pub(crate) fn container(db: &str) -> String {
    child(db, 4, 4)
}

/// A new item's rid in the container whose rid is `coll`.
pub(crate) fn item(coll: &str) -> String {
    child(coll, 8, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rids_nest_and_are_base64() {
        let db = database();
        let coll = container(&db);
        let item = item(&coll);
        assert_eq!((db.len(), coll.len(), item.len()), (8, 12, 24));
        assert_eq!(decode(&coll)[..4], decode(&db)[..]);
        assert_eq!(decode(&item)[..8], decode(&coll)[..]);
        assert!(!item.contains('/'));
        assert!(is_rid_path(&db));
        assert!(!is_rid_path("my-database") && !is_rid_path("abc"));
    }
}
