//! Paths by rids (`dbs/{db rid}/colls/{coll rid}/docs/{item rid}`, as in `_self` links,
//! which SDKs send back, e.g. to delete an item they read) resolved to the ids the store
//! is keyed by. A segment that names no rid is left as it is (so a resource whose id looks
//! like a rid is still found by its id).

use serde_json::Value;

use crate::data::DataStore;
use crate::resource::Resource;
use crate::rid::is_rid_path;

fn rid_of(resource: &Value) -> &str {
    resource["_rid"].as_str().unwrap_or_default()
}

impl DataStore {
    /// `resource` with its rid segments replaced by ids.
    pub(crate) fn by_ids(&self, resource: Resource) -> Resource {
        let db_id = |db: String| -> String {
            if self.databases.contains_key(&db) || !is_rid_path(&db) {
                return db;
            }
            let found = self
                .databases
                .iter()
                .find(|(_, d)| rid_of(&d.resource) == db);
            found.map_or(db, |(id, _)| id.clone())
        };
        let coll_id = |db: &str, coll: String| -> String {
            let Some(database) = self.databases.get(db) else {
                return coll;
            };
            if database.containers.contains_key(&coll) {
                return coll;
            }
            let found = database
                .containers
                .iter()
                .find(|(_, c)| rid_of(&c.resource) == coll);
            found.map_or(coll, |(id, _)| id.clone())
        };
        match resource {
            Resource::Database { db } => Resource::Database { db: db_id(db) },
            Resource::Containers { db } => Resource::Containers { db: db_id(db) },
            Resource::Container { db, coll } => {
                let db = db_id(db);
                let coll = coll_id(&db, coll);
                Resource::Container { db, coll }
            }
            Resource::Items { db, coll } => {
                let db = db_id(db);
                let coll = coll_id(&db, coll);
                Resource::Items { db, coll }
            }
            Resource::Scripts { db, coll, kind } => {
                let db = db_id(db);
                let coll = coll_id(&db, coll);
                Resource::Scripts { db, coll, kind }
            }
            Resource::Script { db, coll, kind, id } => {
                let by_rids = is_rid_path(&db);
                let db = db_id(db);
                let coll = coll_id(&db, coll);
                // A script's `_self` names its rid: find the script that has it.
                let id = match self.container(&db, &coll) {
                    Ok(container) if by_rids => {
                        let feed = format!("{}/{}", rid_of(&container.resource), kind.segment());
                        let scripts = self.scripts.get(&feed);
                        let found = scripts.and_then(|s| s.iter().find(|(_, v)| rid_of(v) == id));
                        found.map_or(id, |(script_id, _)| script_id.clone())
                    }
                    _ => id,
                };
                Resource::Script { db, coll, kind, id }
            }
            Resource::Item { db, coll, id } => {
                let by_rids = is_rid_path(&db);
                let db = db_id(db);
                let coll = coll_id(&db, coll);
                let id = match self.container(&db, &coll) {
                    Ok(container) if by_rids => container
                        .items
                        .iter()
                        .find(|(_, item)| rid_of(item) == id)
                        .map_or(id, |((_, item_id), _)| item_id.clone()),
                    _ => id,
                };
                Resource::Item { db, coll, id }
            }
            other => other,
        }
    }
}
