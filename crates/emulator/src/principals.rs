//! Users and their permissions: created (or upserted), listed, read, replaced (the id may
//! change) and deleted as the service does, with nested rids and rid links. A permission's
//! `_token` is minted afresh on every answer (`route/principals.rs`, `resource_token.rs`,
//! which also accepts it as a credential); the stored one is a placeholder.

use serde_json::{Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, id_of, object, stamp};

/// Where a user (`user` `None`) or a permission lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) db: &'a str,
    pub(crate) user: Option<&'a str>,
}

impl Owner<'_> {
    fn feed(&self) -> String {
        match self.user {
            None => format!("dbs/{}/users", self.db),
            Some(user) => format!("dbs/{}/users/{user}/permissions", self.db),
        }
    }

    fn what(&self) -> &'static str {
        if self.user.is_some() {
            "permission"
        } else {
            "user"
        }
    }
}

fn rid_of(resource: &Value) -> String {
    resource["_rid"].as_str().unwrap_or_default().to_string()
}

impl DataStore {
    /// The owner's `_rid` and `_self` (the database's, or the user's); 404 if it is gone.
    fn owner_of(&self, owner: Owner<'_>) -> Result<(String, String), ApiError> {
        let database = self.database(owner.db)?;
        match owner.user {
            None => {
                let rid = rid_of(&database.resource);
                Ok((rid.clone(), format!("dbs/{rid}/")))
            }
            Some(user) => {
                let feed = Owner {
                    db: owner.db,
                    user: None,
                }
                .feed();
                let found = self.principals.get(&feed).and_then(|users| users.get(user));
                let user = found.ok_or_else(|| ApiError::not_found(&format!("user {user}")))?;
                let link = user["_self"].as_str().unwrap_or_default().to_string();
                Ok((rid_of(user), link))
            }
        }
    }

    /// The feed: every user of a database, or every permission of a user.
    pub(crate) fn principals(&self, owner: Owner<'_>) -> Result<Vec<Value>, ApiError> {
        self.owner_of(owner)?;
        let feed = self.principals.get(&owner.feed());
        Ok(feed
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default())
    }

    /// `POST`: creates (409 if the id is taken) or, with `upsert`, creates or replaces.
    pub(crate) fn create_principal(
        &mut self,
        owner: Owner<'_>,
        body: Value,
        upsert: bool,
    ) -> ApiResult {
        let id = id_of(&object(body.clone())?)?;
        let exists = self
            .principals
            .get(&owner.feed())
            .is_some_and(|f| f.contains_key(&id));
        match (exists, upsert) {
            (true, false) => Err(ApiError::conflict(&format!("{} {id}", owner.what()))),
            (true, true) => self.replace_principal(owner, &id, body),
            (false, _) => {
                let stored = self.store_principal(owner, None, body)?;
                Ok((201, Some(stored)))
            }
        }
    }

    /// Stamps and stores `body` (keeping `rid` when it replaces a resource) and returns it.
    fn store_principal(
        &mut self,
        owner: Owner<'_>,
        rid: Option<String>,
        body: Value,
    ) -> Result<Value, ApiError> {
        let (owner_rid, owner_link) = self.owner_of(owner)?;
        let mut resource = object(body)?;
        let id = id_of(&resource)?;
        let rid = rid.unwrap_or_else(|| match owner.user {
            None => crate::rid::container(&owner_rid),
            Some(_) => crate::rid::item(&owner_rid),
        });
        let (kind, child) = match owner.user {
            None => ("users", "_permissions"),
            Some(_) => ("permissions", "_token"),
        };
        stamp(
            &mut resource,
            rid.clone(),
            format!("{owner_link}{kind}/{rid}/"),
            self.clock.now_secs(),
        );
        let child_value = match owner.user {
            None => json!("permissions/"),
            Some(_) => json!(format!("type=resource&ver=1.0&sig=emulator-{rid}")),
        };
        resource.insert(child.into(), child_value);
        let resource = Value::Object(resource);
        let feed = self.principals.entry(owner.feed()).or_default();
        feed.insert(id, resource.clone());
        Ok(resource)
    }

    /// `GET`.
    pub(crate) fn read_principal(&self, owner: Owner<'_>, id: &str) -> ApiResult {
        self.owner_of(owner)?;
        let found = self.principals.get(&owner.feed()).and_then(|f| f.get(id));
        let found = found.ok_or_else(|| ApiError::not_found(&format!("{} {id}", owner.what())))?;
        Ok((200, Some(found.clone())))
    }

    /// `PUT`: replaces; a new id in the body renames it (409 if taken), a user with its
    /// permissions.
    pub(crate) fn replace_principal(
        &mut self,
        owner: Owner<'_>,
        id: &str,
        body: Value,
    ) -> ApiResult {
        let (_, current) = self.read_principal(owner, id)?;
        let new_id = id_of(&object(body.clone())?)?;
        let feed = owner.feed();
        if new_id != id {
            if self
                .principals
                .get(&feed)
                .is_some_and(|f| f.contains_key(&new_id))
            {
                return Err(ApiError::conflict(&format!("{} {new_id}", owner.what())));
            }
            if owner.user.is_none() {
                let old = Owner {
                    db: owner.db,
                    user: Some(id),
                }
                .feed();
                if let Some(permissions) = self.principals.remove(&old) {
                    let new = Owner {
                        db: owner.db,
                        user: Some(&new_id),
                    }
                    .feed();
                    self.principals.insert(new, permissions);
                }
            }
        }
        if let Some(f) = self.principals.get_mut(&feed) {
            f.remove(id);
        }
        let rid = current.as_ref().map(rid_of);
        let stored = self.store_principal(owner, rid, body)?;
        Ok((200, Some(stored)))
    }

    /// `DELETE`: a user with its permissions.
    pub(crate) fn delete_principal(&mut self, owner: Owner<'_>, id: &str) -> ApiResult {
        self.read_principal(owner, id)?;
        if let Some(f) = self.principals.get_mut(&owner.feed()) {
            f.remove(id);
        }
        if owner.user.is_none() {
            self.principals.remove(
                &Owner {
                    db: owner.db,
                    user: Some(id),
                }
                .feed(),
            );
        }
        Ok((204, None))
    }
}
