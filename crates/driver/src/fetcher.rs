//! The driver's `AccountFetcher`: a signed `GET /` for the runtime's refreshes and probes.

use std::sync::Arc;

use http::Method;
use meridian_location_store::{Endpoint, ValidatedAccount};
use meridian_runtime::{AccountFetcher, FetchError, FetchFuture};

use crate::credential::Credential;
use crate::request::{Target, Unsendable, signed};
use crate::shared::PooledTransport;
use crate::transport::{HttpResponse, TransportError};

/// One driver's fetcher: its registration's credential in the runtime. It signs with
/// the driver's current key (so `Driver::rotate_key` applies to refreshes at once) or the
/// token credential's runtime-wide cached token, and
/// holds no reference to the driver or the runtime.
pub(crate) struct DriverFetcher {
    pub(crate) transport: Arc<PooledTransport>,
    pub(crate) credential: Arc<Credential>,
}

impl DriverFetcher {
    async fn get_account(&self, endpoint: &Endpoint) -> Result<HttpResponse, FetchError> {
        // A credential that cannot give a token fails the fetch with the
        // `CredentialError` as the transport error's source.
        let signer = self
            .credential
            .signer()
            .await
            .map_err(FetchError::transport)?;
        let send = async {
            // No operation slot: the runtime bounds fetches and probes itself (its
            // `concurrency`), and in an outage the operations hung in a failing region
            // can hold every slot — the refresh that routes around them must not wait
            // for them.
            let request = signed(
                &signer,
                Method::GET,
                endpoint,
                &Target::account(),
                &[],
                None,
                None,
            )
            .map_err(|Unsendable(name)| TransportError::Invalid(format!("header `{name}`")))?;
            self.transport.send_refresh(request).await
        };
        let response = send.await.map_err(|error| match error {
            TransportError::Timeout(after) => FetchError::Timeout(after),
            TransportError::BodyTooLarge(limit) => FetchError::BodyTooLarge { limit },
            other => FetchError::transport(other),
        })?;
        if !(200..300).contains(&response.status) {
            return Err(FetchError::Status {
                status: response.status,
                sub_status: sub_status(&response),
            });
        }
        Ok(response)
    }
}

/// The response's `x-ms-substatus`; `0`, which the service sends on errors without a finer
/// cause, is no sub-status (so a plain 404 is `Status::NOT_FOUND`).
pub(crate) fn sub_status(response: &HttpResponse) -> Option<u32> {
    const SUB_STATUS: http::HeaderName = http::HeaderName::from_static("x-ms-substatus");
    response
        .headers
        .get(&SUB_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .filter(|sub| *sub != 0)
}

impl AccountFetcher for DriverFetcher {
    fn fetch_account<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        Box::pin(async move {
            let response = self.get_account(endpoint).await?;
            Ok(ValidatedAccount::from_slice(&response.body)?)
        })
    }

    fn probe<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async move { self.get_account(endpoint).await.map(|_| ()) })
    }

    fn credential_id(&self) -> Option<u64> {
        Some(self.credential.id())
    }
}
