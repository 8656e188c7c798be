//! Entra ID (`type=aad`) authorization, opt-in (`--entra`): the emulator is its own token
//! issuer. It holds one ES256 key pair, made at start, publishes the public half as a JWKS
//! (`GET /_emulator/entra/jwks`) and mints tokens with the private half
//! (`POST /_emulator/entra/token`, [`Emulator::entra_token`](crate::Emulator::entra_token)).
//!
//! A request signed `type=aad&ver=1.0&sig=<JWT>` is checked as the service checks it:
//! signature by the published key, audience (`https://cosmos.azure.com` or the account
//! endpoint), expiry (no leeway) and an object id; each refusal is 401 with the service's
//! sub-status. A valid token is a data-plane identity: it may read and write items but not
//! write databases, containers or offers (403, sub-status 5300, as the service refuses
//! control-plane writes through its endpoint to RBAC identities).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api_error::ApiError;

/// The audience of tokens for the scope `https://cosmos.azure.com/.default`.
pub const COSMOS_AUDIENCE: &str = "https://cosmos.azure.com";

/// The service's 401 sub-statuses for Entra tokens (`SubStatusCodes` in the SDKs).
const INVALID_FORMAT: u32 = 5003;
const INVALID_SIGNATURE: u32 = 5004;
const EXPIRED: u32 = 5006;
const INVALID_AUDIENCE: u32 = 5008;
const MISSING_OBJECT_ID: u32 = 5011;
/// 401: the account's keys are disabled (`--disable-keys`): only Entra tokens are accepted.
pub const LOCAL_AUTH_DISABLED: u32 = 5202;
/// 403: the operation is not allowed to an RBAC (Entra) identity through the endpoint.
pub const RBAC_OPERATION_NOT_SUPPORTED: u32 = 5300;

/// What a minted token says. Every field has a default: a valid data-plane token for the
/// Cosmos audience, valid for an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EntraClaims {
    /// `aud` (default [`COSMOS_AUDIENCE`]).
    pub audience: String,
    /// Seconds from now to `exp`; negative for a token that has already expired
    /// (default 3600).
    pub expires_in_secs: i64,
    /// `oid`, the principal's object id (default a fixed test id; `None`: no `oid`).
    pub object_id: Option<String>,
}

impl Default for EntraClaims {
    fn default() -> Self {
        Self {
            audience: COSMOS_AUDIENCE.into(),
            expires_in_secs: 3600,
            object_id: Some("00000000-0000-0000-0000-00000000e001".into()),
        }
    }
}

impl EntraClaims {
    /// Claims for `audience`, otherwise the defaults.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// No `oid` claim (the service refuses such a token).
    pub fn without_object_id(mut self) -> Self {
        self.object_id = None;
        self
    }

    /// `exp` this many seconds from now (negative: already expired).
    pub fn expires_in_secs(mut self, seconds: i64) -> Self {
        self.expires_in_secs = seconds;
        self
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Jwt {
    aud: String,
    exp: i64,
    iat: i64,
    iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oid: Option<String>,
}

/// The emulator's token issuer: its key pair and the audiences it accepts. `Debug` never
/// shows the private key.
pub(crate) struct Entra {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
    /// Master-key requests are refused (`--disable-keys`).
    keys_disabled: bool,
}

impl fmt::Debug for Entra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entra")
            .field("kid", &self.kid)
            .field("keys_disabled", &self.keys_disabled)
            .finish_non_exhaustive()
    }
}

impl Entra {
    /// A fresh P-256 key pair; with `keys_disabled`, requests signed with a master key
    /// are refused.
    pub(crate) fn generate(keys_disabled: bool) -> Result<Self, String> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("cannot make the Entra signing key: {e}"))?;
        let point = pair.public_key_raw();
        // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
        if point.len() != 65 || point[0] != 4 {
            return Err("unexpected P-256 public key encoding".into());
        }
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..]),
        );
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| format!("cannot load the Entra public key: {e}"))?;
        let kid = format!("meridian-{}", &x[..8]);
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": kid, "x": x, "y": y});
        Ok(Self {
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            decoding,
            jwk,
            kid,
            keys_disabled,
        })
    }

    /// The refusal of a request that is not `type=aad` when keys are disabled (401 /
    /// 5202, as the service answers accounts with local authentication disabled).
    pub(crate) fn refuse_keys(&self) -> Result<(), ApiError> {
        if self.keys_disabled {
            return Err(unauthorized(
                LOCAL_AUTH_DISABLED,
                "local (key) authorization is disabled for this account; use an Entra ID token",
            ));
        }
        Ok(())
    }

    /// The published key set: `{"keys": [<the public JWK>]}`.
    pub(crate) fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    /// A token signed with the emulator's key, saying what `claims` say.
    pub(crate) fn mint(&self, claims: &EntraClaims) -> Result<String, String> {
        let now = unix_now();
        let jwt = Jwt {
            aud: claims.audience.clone(),
            exp: now.saturating_add(claims.expires_in_secs),
            iat: now,
            iss: "https://meridian-emulator/entra".into(),
            oid: claims.object_id.clone(),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &jwt, &self.encoding).map_err(|e| e.to_string())
    }

    /// Checks a `type=aad` request: the token (`jwt`, for [`COSMOS_AUDIENCE`] or
    /// `account`, the global endpoint, trailing `/` ignored), then refuses a control-plane
    /// write.
    pub(crate) fn authorize(
        &self,
        account: &str,
        jwt: &str,
        control_plane_write: bool,
    ) -> Result<(), ApiError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 0;
        validation.set_audience(&[COSMOS_AUDIENCE, account.trim_end_matches('/')]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        // The signature check compares in ring (ECDSA verification, no secret compared).
        let claims = jsonwebtoken::decode::<Jwt>(jwt, &self.decoding, &validation)
            .map_err(|e| {
                let (sub_status, what) = match e.kind() {
                    ErrorKind::ExpiredSignature => (EXPIRED, "the Entra token has expired"),
                    ErrorKind::InvalidAudience => (
                        INVALID_AUDIENCE,
                        "the Entra token's audience is not this account",
                    ),
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => (
                        INVALID_SIGNATURE,
                        "the Entra token is not signed by this account's issuer",
                    ),
                    _ => (INVALID_FORMAT, "the Entra token is malformed"),
                };
                unauthorized(sub_status, what)
            })?
            .claims;
        if claims.oid.as_deref().is_none_or(str::is_empty) {
            return Err(unauthorized(
                MISSING_OBJECT_ID,
                "the Entra token has no object id (oid)",
            ));
        }
        if control_plane_write {
            return Err(ApiError::new(
                403,
                "Forbidden",
                "this operation is not allowed through the account endpoint to an Entra ID \
                 identity; perform it through the management plane or with a key",
            )
            .with_sub_status(RBAC_OPERATION_NOT_SUPPORTED));
        }
        Ok(())
    }
}

/// The JWT of an `authorization` header value `type=aad&ver=1.0&sig=<JWT>` (URL-encoded
/// or not); `None` for any other scheme.
pub(crate) fn aad_token(authorization: &str) -> Option<String> {
    let decoded = percent_decode_str(authorization).decode_utf8().ok()?;
    let rest = decoded.strip_prefix("type=aad&ver=1.0&sig=")?;
    Some(rest.to_string())
}

/// Whether `method` on a resource of `resource_type` writes the control plane (databases,
/// containers, offers); a query (`POST` with `x-ms-documentdb-isquery`) reads.
pub(crate) fn is_control_plane_write(method: &str, resource_type: &str, is_query: bool) -> bool {
    let writes = matches!(method, "POST" | "PUT" | "DELETE" | "PATCH") && !is_query;
    writes && matches!(resource_type, "dbs" | "colls" | "offers")
}

fn unauthorized(sub_status: u32, message: &str) -> ApiError {
    ApiError::new(401, "Unauthorized", message).with_sub_status(sub_status)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "http://127.0.0.1:1/";

    #[test]
    fn tokens_are_checked_for_signer_audience_expiry_and_object_id() {
        let issuer = Entra::generate(false).unwrap();
        let other = Entra::generate(false).unwrap();
        let mint = |claims: EntraClaims| issuer.mint(&claims).unwrap();
        let sub = |r: Result<(), ApiError>| r.map_err(|e| (e.status, e.sub_status));
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(EntraClaims::default()), false)),
            Ok(())
        );
        let account = EntraClaims::default().audience("http://127.0.0.1:1");
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(account), false)),
            Ok(())
        );
        let expired = EntraClaims::default().expires_in_secs(-5);
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(expired), false)),
            Err((401, Some(EXPIRED)))
        );
        let foreign = other.mint(&EntraClaims::default()).unwrap();
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &foreign, false)),
            Err((401, Some(INVALID_SIGNATURE)))
        );
        let audience = EntraClaims::default().audience("https://storage.azure.com");
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(audience), false)),
            Err((401, Some(INVALID_AUDIENCE)))
        );
        let anonymous = EntraClaims::default().without_object_id();
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(anonymous), false)),
            Err((401, Some(MISSING_OBJECT_ID)))
        );
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, "not.a.jwt", false)),
            Err((401, Some(INVALID_FORMAT)))
        );
        assert_eq!(
            sub(issuer.authorize(ACCOUNT, &mint(EntraClaims::default()), true)),
            Err((403, Some(RBAC_OPERATION_NOT_SUPPORTED)))
        );
        assert!(
            !format!("{issuer:?}").contains("d\""),
            "no private key in Debug"
        );
    }

    #[test]
    fn the_aad_scheme_is_recognised_encoded_or_not() {
        assert_eq!(
            aad_token("type=aad&ver=1.0&sig=a.b.c").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(
            aad_token("type%3Daad%26ver%3D1.0%26sig%3Da.b.c").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(aad_token("type%3Dmaster%26ver%3D1.0%26sig%3Dabc"), None);
        assert!(is_control_plane_write("POST", "dbs", false));
        assert!(!is_control_plane_write("POST", "colls", true));
        assert!(is_control_plane_write("PUT", "offers", false));
        assert!(!is_control_plane_write("POST", "docs", false));
        assert!(!is_control_plane_write("GET", "colls", false));
    }
}
