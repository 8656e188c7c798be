//! Server-side scripts — stored procedures, triggers, user-defined functions — kept as
//! resources of their container: created (or upserted), listed, queried, read, replaced and
//! deleted as the service does, with nested rids and rid `_self` links. The emulator runs no
//! JavaScript: executing a stored procedure, or a write that names a trigger, is refused
//! (`route/scripts.rs`), and a query calling a UDF fails as any unknown function does.
//! Scripts are keyed by their container's rid, so a container deleted and created again
//! under the same id starts with none.

use serde_json::Value;

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, id_of, object, stamp};
use crate::script_kind::ScriptKind;

/// Where a script (or the feed of one kind) lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScriptsAt<'a> {
    pub(crate) db: &'a str,
    pub(crate) coll: &'a str,
    pub(crate) kind: ScriptKind,
}

impl ScriptsAt<'_> {
    fn what(&self) -> &'static str {
        match self.kind {
            ScriptKind::StoredProcedure => "stored procedure",
            ScriptKind::Trigger => "trigger",
            ScriptKind::UserDefinedFunction => "user-defined function",
        }
    }
}

impl DataStore {
    /// The feed's key and the container's rid and `_self` (404 if the container is gone).
    fn scripts_feed(&self, at: ScriptsAt<'_>) -> Result<(String, String, String), ApiError> {
        let container = self.container(at.db, at.coll)?;
        let field = |name: &str| {
            container.resource[name]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let (rid, link) = (field("_rid"), field("_self"));
        Ok((format!("{rid}/{}", at.kind.segment()), rid, link))
    }

    /// Every script of one kind in the container.
    pub(crate) fn scripts(&self, at: ScriptsAt<'_>) -> Result<Vec<Value>, ApiError> {
        let (feed, _, _) = self.scripts_feed(at)?;
        let scripts = self.scripts.get(&feed);
        Ok(scripts
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default())
    }

    /// `POST`: creates (409 if the id is taken) or, with `upsert`, creates or replaces.
    pub(crate) fn create_script(
        &mut self,
        at: ScriptsAt<'_>,
        body: Value,
        upsert: bool,
    ) -> ApiResult {
        let id = id_of(&object(body.clone())?)?;
        let (feed, _, _) = self.scripts_feed(at)?;
        let exists = self.scripts.get(&feed).is_some_and(|f| f.contains_key(&id));
        match (exists, upsert) {
            (true, false) => Err(ApiError::conflict(&format!("{} {id}", at.what()))),
            (true, true) => self.replace_script(at, &id, body),
            (false, _) => Ok((201, Some(self.store_script(at, None, body)?))),
        }
    }

    fn store_script(
        &mut self,
        at: ScriptsAt<'_>,
        rid: Option<String>,
        body: Value,
    ) -> Result<Value, ApiError> {
        let (feed, coll_rid, coll_link) = self.scripts_feed(at)?;
        let mut resource = object(body)?;
        let id = id_of(&resource)?;
        if !resource.get("body").is_some_and(Value::is_string) {
            return Err(ApiError::bad_request(format!(
                "a {} needs its `body`: the script's source as a string",
                at.what()
            )));
        }
        let rid = rid.unwrap_or_else(|| crate::rid::item(&coll_rid));
        let link = format!("{coll_link}{}/{rid}/", at.kind.segment());
        stamp(&mut resource, rid, link, self.clock.now_secs());
        let resource = Value::Object(resource);
        self.scripts
            .entry(feed)
            .or_default()
            .insert(id, resource.clone());
        Ok(resource)
    }

    /// `GET` of one script.
    pub(crate) fn read_script(&self, at: ScriptsAt<'_>, id: &str) -> ApiResult {
        let (feed, _, _) = self.scripts_feed(at)?;
        let found = self.scripts.get(&feed).and_then(|f| f.get(id));
        let found = found.ok_or_else(|| ApiError::not_found(&format!("{} {id}", at.what())))?;
        Ok((200, Some(found.clone())))
    }

    /// `PUT`: replaces the script (its rid kept); a new id in the body renames it (409 if
    /// taken).
    pub(crate) fn replace_script(&mut self, at: ScriptsAt<'_>, id: &str, body: Value) -> ApiResult {
        let (_, current) = self.read_script(at, id)?;
        let new_id = id_of(&object(body.clone())?)?;
        let (feed, _, _) = self.scripts_feed(at)?;
        let scripts = self.scripts.entry(feed).or_default();
        if new_id != id && scripts.contains_key(&new_id) {
            return Err(ApiError::conflict(&format!("{} {new_id}", at.what())));
        }
        let removed = scripts.remove(id);
        let rid = current
            .as_ref()
            .and_then(|c| c["_rid"].as_str())
            .map(str::to_string);
        match self.store_script(at, rid, body) {
            Ok(stored) => Ok((200, Some(stored))),
            Err(error) => {
                // Refused: the script stays as it was.
                if let (Some(old), Ok((feed, _, _))) = (removed, self.scripts_feed(at)) {
                    self.scripts
                        .entry(feed)
                        .or_default()
                        .insert(id.to_string(), old);
                }
                Err(error)
            }
        }
    }

    /// `DELETE`.
    pub(crate) fn delete_script(&mut self, at: ScriptsAt<'_>, id: &str) -> ApiResult {
        self.read_script(at, id)?;
        let (feed, _, _) = self.scripts_feed(at)?;
        if let Some(f) = self.scripts.get_mut(&feed) {
            f.remove(id);
        }
        Ok((204, None))
    }
}
