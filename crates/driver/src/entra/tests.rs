//! The token cache over a fake credential and tokio's paused clock.

use std::sync::atomic::AtomicBool;

use azure_core::credentials::TokenRequestOptions;
use azure_core::error::ErrorKind;
use futures_util::future::join_all;

use super::*;

/// Issues `token-N` tokens living `lifetime`; records when each was asked for and when
/// it expires (tokio clock). Fails while `fail` is set; each call takes `latency`.
#[derive(Debug)]
struct Fake {
    lifetime: Duration,
    latency: Duration,
    fail: AtomicBool,
    calls: AtomicU64,
    issued: Mutex<Vec<(Instant, Instant)>>,
}

impl Fake {
    fn new(lifetime: Duration) -> Arc<Self> {
        Arc::new(Self {
            lifetime,
            latency: Duration::ZERO,
            fail: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            issued: Mutex::new(Vec::new()),
        })
    }

    fn issued(&self) -> Vec<(Instant, Instant)> {
        self.issued.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl TokenCredential for Fake {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, [COSMOS_SCOPE]);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let asked = Instant::now();
        tokio::time::sleep(self.latency).await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(azure_core::Error::with_message(
                ErrorKind::Credential,
                "no identity available",
            ));
        }
        let mut issued = self.issued.lock().unwrap();
        let n = issued.len();
        issued.push((asked, asked + self.lifetime));
        Ok(AccessToken::new(
            format!("token-{n}"),
            OffsetDateTime::now_utc() + self.lifetime,
        ))
    }
}

/// The `N` of the `token-N` a header carries.
fn token_number(header: &HeaderValue) -> usize {
    let value = header.to_str().unwrap();
    let n = value
        .strip_prefix("type%3Daad%26ver%3D1.0%26sig%3Dtoken-")
        .unwrap();
    n.parse().unwrap()
}

fn cache_of(fake: &Arc<Fake>) -> Arc<TokenCache> {
    let credential: Arc<dyn TokenCredential> = Arc::clone(fake) as _;
    TokenCaches::default().cache(&credential)
}

#[tokio::test(start_paused = true)]
async fn entra_token_is_refreshed_before_it_expires() {
    let hour = Duration::from_secs(3600);
    let fake = Fake::new(hour);
    let cache = cache_of(&fake);
    let start = Instant::now();
    // A request every 10 s for four hours: every one carries a token that has not
    // expired, and the credential is asked for the next token before the last expires.
    while Instant::now() < start + 4 * hour {
        let header = cache.authorization().await.unwrap();
        let n = token_number(&header);
        let (_, expires) = fake.issued()[n];
        assert!(Instant::now() < expires, "token {n} sent after it expired");
        tokio::time::advance(Duration::from_secs(10)).await;
    }
    let issued = fake.issued();
    for (n, pair) in issued.windows(2).enumerate() {
        let ((_, expires), (asked, _)) = (pair[0], pair[1]);
        assert!(
            asked < expires,
            "token {} asked only after token {n} expired",
            n + 1
        );
        assert!(
            expires - asked <= REFRESH_WINDOW,
            "token {} asked more than the refresh window early",
            n + 1
        );
    }
    // One token per 55 minutes (refreshed 5 minutes early), over four hours.
    assert_eq!(issued.len(), 5, "{issued:?}");
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_share_one_call() {
    let fake = Arc::new(Fake {
        latency: Duration::from_secs(2),
        ..Arc::into_inner(Fake::new(Duration::from_secs(3600))).unwrap()
    });
    let cache = cache_of(&fake);
    let headers = join_all((0..50).map(|_| cache.authorization())).await;
    assert!(
        headers
            .iter()
            .all(|h| h.as_ref().map(token_number).ok() == Some(0))
    );
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_credential_is_a_typed_error_asked_at_most_once_a_second() {
    let fake = Fake::new(Duration::from_secs(3600));
    fake.fail.store(true, Ordering::SeqCst);
    let cache = cache_of(&fake);
    for result in join_all((0..20).map(|_| cache.authorization())).await {
        let error = result.unwrap_err();
        assert!(matches!(error, CredentialError::Failed(_)), "{error:?}");
        assert!(error.to_string().contains("no identity available"));
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    // After the pause the credential is asked again; once it recovers, a token comes.
    fake.fail.store(false, Ordering::SeqCst);
    tokio::time::advance(RETRY_AFTER_FAILURE).await;
    let header = cache.authorization().await.unwrap();
    assert_eq!(token_number(&header), 0);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    // The token is in no Debug output.
    assert!(!format!("{cache:?} {header:?}").contains("token-"));
}

#[tokio::test(start_paused = true)]
async fn an_already_expired_token_and_a_hung_credential_are_errors() {
    let expired = Fake::new(Duration::ZERO);
    let error = cache_of(&expired).authorization().await.unwrap_err();
    assert!(matches!(error, CredentialError::Expired), "{error:?}");

    let hung = Arc::new(Fake {
        latency: 10 * TOKEN_TIMEOUT,
        ..Arc::into_inner(Fake::new(Duration::from_secs(3600))).unwrap()
    });
    let error = cache_of(&hung).authorization().await.unwrap_err();
    assert!(matches!(error, CredentialError::Timeout(_)), "{error:?}");
}

#[test]
fn one_cache_per_credential() {
    let caches = TokenCaches::default();
    let a: Arc<dyn TokenCredential> = Fake::new(Duration::from_secs(1));
    let b: Arc<dyn TokenCredential> = Fake::new(Duration::from_secs(1));
    let first = caches.cache(&a);
    assert!(Arc::ptr_eq(&first, &caches.cache(&Arc::clone(&a))));
    assert!(!Arc::ptr_eq(&first, &caches.cache(&b)));
    assert_eq!(first.id(), caches.cache(&a).id());
}
