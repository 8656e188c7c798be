//! The admin API of `--entra`: the published key set and the token mint.
//!
//! `GET /_emulator/entra/jwks` answers `{"keys": [<ES256 public JWK>]}`; `POST
//! /_emulator/entra/token` with an [`EntraClaims`] body (every field optional) answers
//! `{"token": "<JWT>"}`. Without `--entra` both are 404.

use std::sync::Arc;

use http::{Method, Request, Response};
use serde_json::json;

use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::entra::EntraClaims;
use crate::http::{Body, RequestBody, json_response, read_json};
use crate::state::State;

pub(crate) async fn route(
    state: &Arc<State>,
    method: &Method,
    rest: &[&str],
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Result<Response<Body>, ApiError> {
    let entra = state
        .entra
        .as_ref()
        .ok_or_else(|| ApiError::new(404, "NotFound", "Entra ID is off (start with --entra)"))?;
    match (method, rest) {
        (&Method::GET, ["jwks"]) => Ok(json_response(200, &entra.jwks())),
        (&Method::POST, ["token"]) => {
            let value = read_json(request.into_body(), charge).await?;
            let claims: EntraClaims = serde_json::from_value(value)
                .map_err(|e| ApiError::bad_request(format!("unexpected body: {e}")))?;
            let token = entra
                .mint(&claims)
                .map_err(|e| ApiError::new(500, "InternalServerError", e))?;
            Ok(json_response(200, &json!({ "token": token })))
        }
        _ => Err(ApiError::new(404, "NotFound", "no such Entra admin route")),
    }
}
