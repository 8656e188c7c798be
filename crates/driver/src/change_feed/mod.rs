//! The change feed: [`Container::change_feed`] streams the container's changes (each
//! item's latest version, in the order of its last write) a page at a time, from the
//! beginning, from now, from a point in time or from a saved continuation, for the whole
//! container or one partition key.
//!
//! The whole container is read as the official SDKs read it: one source per partition
//! key range (listed with `GET …/pkranges`), each a `GET …/docs` with
//! `A-IM: Incremental Feed` and `x-ms-documentdb-partitionkeyrangeid`, asked in turn.
//! Each answer's `etag` is that source's continuation, sent back in `If-None-Match`; a
//! source with nothing new answers 304. Every page carries the feed's merged
//! continuation (every source's etag in one opaque token), so a feed saved after any
//! page resumes exactly there, in this process or another. The stream ends once every
//! source in turn answered 304: its last page is empty, marked
//! [`drained`](ChangeFeedPage::drained), and carries the continuation to poll again
//! from later.

mod cursor;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::container::{Container, PartitionKey};
use crate::error::{ConfigError, ConfigReason, DriverError};
use crate::header_name::header_name;
use crate::operation::Operation;
use crate::query::{range_ids, results};
use crate::request::Target;
use crate::status::Status;
use cursor::{Cursor, SourceCursor, Start};

/// Where a change feed starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeFeedStart {
    /// Every item, from the container's first write.
    Beginning,
    /// Only changes made after the feed's first request.
    Now,
    /// Changes made at or after this time (whole seconds).
    Time(SystemTime),
    /// Right after the page whose [`continuation`](ChangeFeedPage::continuation) this is.
    Continuation(String),
}

/// What a change feed reads: where it starts, its scope and its page size.
///
/// ```
/// use meridian_driver::ChangeFeedOptions;
/// let options = ChangeFeedOptions::from_beginning().partition_key("eu").max_item_count(100);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChangeFeedOptions {
    start: ChangeFeedStart,
    partition_key: Option<PartitionKey>,
    max_item_count: Option<u32>,
}

impl ChangeFeedOptions {
    /// A feed starting at `start`, over the whole container.
    pub fn new(start: ChangeFeedStart) -> Self {
        Self {
            start,
            partition_key: None,
            max_item_count: None,
        }
    }

    /// From the container's first write.
    pub fn from_beginning() -> Self {
        Self::new(ChangeFeedStart::Beginning)
    }

    /// Only changes after the feed's first request.
    pub fn from_now() -> Self {
        Self::new(ChangeFeedStart::Now)
    }

    /// Changes made at or after `time`.
    pub fn from_time(time: SystemTime) -> Self {
        Self::new(ChangeFeedStart::Time(time))
    }

    /// Right after the page whose continuation `token` is.
    pub fn from_continuation(token: impl Into<String>) -> Self {
        Self::new(ChangeFeedStart::Continuation(token.into()))
    }

    /// Only this partition key's changes (one source, no range listing). A continuation
    /// keeps the scope it was made with: resuming one with another scope is refused.
    pub fn partition_key(mut self, pk: impl Into<PartitionKey>) -> Self {
        self.partition_key = Some(pk.into());
        self
    }

    /// At most `n` changes per request (`0`: the service's default).
    pub fn max_item_count(mut self, n: u32) -> Self {
        self.max_item_count = (n > 0).then_some(n);
        self
    }
}

/// One page of changes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChangeFeedPage<T> {
    /// The changed items, each at its latest version.
    pub items: Vec<T>,
    /// Resumes the feed right after this page
    /// ([`ChangeFeedOptions::from_continuation`]); opaque, valid in another process.
    pub continuation: String,
    /// Request units charged for the requests that made this page (304s and the range
    /// listing included).
    pub request_charge: f64,
    /// `true` on the stream's last page: every source answered 304 (nothing new). The
    /// page is empty; poll again later from its continuation.
    pub drained: bool,
}

/// The pages of a change feed, each a `Result`; it ends after the
/// [`drained`](ChangeFeedPage::drained) page or an error.
pub struct ChangeFeed<T> {
    inner: BoxStream<'static, Result<ChangeFeedPage<T>, DriverError>>,
}

impl<T> fmt::Debug for ChangeFeed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl<T> Stream for ChangeFeed<T> {
    type Item = Result<ChangeFeedPage<T>, DriverError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

fn refused(reason: &'static str) -> DriverError {
    DriverError::Config(ConfigError::new(
        "change feed continuation",
        ConfigReason::Unsupported(reason),
    ))
}

/// A running feed.
struct Feed {
    container: Container,
    options: ChangeFeedOptions,
    /// `None` until the first request (a continuation is parsed, or the ranges listed).
    cursor: Option<Cursor>,
    /// The source asked next.
    next: usize,
    /// Charges not yet reported with a page.
    pending_charge: f64,
    done: bool,
}

impl Feed {
    /// The cursor the feed starts from: the continuation's, or one source per range.
    async fn open(&mut self) -> Result<Cursor, DriverError> {
        let (_, db, coll, _) = self.container.parts();
        let link = format!("dbs/{db}/colls/{coll}");
        let partition_key = self
            .options
            .partition_key
            .as_ref()
            .map(PartitionKey::header);
        let from = match &self.options.start {
            ChangeFeedStart::Beginning => Start::Beginning,
            ChangeFeedStart::Now => Start::Now,
            ChangeFeedStart::Time(time) => Start::time(*time),
            ChangeFeedStart::Continuation(token) => {
                let cursor = Cursor::parse(token)
                    .ok_or_else(|| refused("not a change feed continuation of this driver"))?;
                if cursor.container != link {
                    return Err(refused("the continuation is another container's"));
                }
                if cursor.partition_key != partition_key {
                    return Err(refused("the continuation was made with another scope"));
                }
                return Ok(cursor);
            }
        };
        let sources = if partition_key.is_some() {
            vec![SourceCursor {
                range: None,
                etag: None,
            }]
        } else {
            let (ids, charge) = range_ids(&self.container).await?;
            self.pending_charge += charge;
            ids.into_iter()
                .map(|id| SourceCursor {
                    range: Some(id),
                    etag: None,
                })
                .collect()
        };
        if sources.is_empty() {
            return Err(refused("the container lists no partition key ranges"));
        }
        Ok(Cursor {
            container: link,
            partition_key,
            from,
            sources,
        })
    }

    /// One request to source `i`: its changes and its new etag (`None` items: a 304).
    async fn ask(
        &mut self,
        cursor: &Cursor,
        i: usize,
    ) -> Result<(Option<Vec<Value>>, Option<String>), DriverError> {
        let (driver, db, coll, excluded) = self.container.parts();
        let mut operation = Operation::read(Target::items(db, coll))
            .session(cursor.container.as_str().into(), true)
            .excluding(excluded)
            .header(header_name!("a-im"), "Incremental Feed");
        if let Some(pk) = &cursor.partition_key {
            operation = operation.header(header_name!("x-ms-documentdb-partitionkey"), pk.clone());
        }
        if let Some(range) = cursor.sources.get(i).and_then(|s| s.range.clone()) {
            operation =
                operation.header(header_name!("x-ms-documentdb-partitionkeyrangeid"), range);
        }
        if let Some((name, value)) = cursor.condition(i) {
            operation = operation.header(name, value);
        }
        if let Some(n) = self.options.max_item_count {
            operation = operation.header(header_name!("x-ms-max-item-count"), n.to_string());
        }
        match driver.inner.execute(&operation).await {
            Ok(success) => {
                self.pending_charge += success.metadata.request_charge;
                let items = results(&success.body, "Documents")?;
                Ok((Some(items), success.metadata.etag))
            }
            Err(error) if error.typed_status() == Some(Status::NOT_MODIFIED) => {
                let metadata = error.failure().map(|f| &f.metadata);
                self.pending_charge += metadata.map_or(0.0, |m| m.request_charge);
                Ok((None, metadata.and_then(|m| m.etag.clone())))
            }
            Err(error) => Err(error),
        }
    }

    /// The next page: the next source with changes, or the drained page once every
    /// source in turn had none.
    async fn step(&mut self) -> Result<ChangeFeedPage<Value>, DriverError> {
        let mut cursor = match self.cursor.take() {
            Some(cursor) => cursor,
            None => self.open().await?,
        };
        let n = cursor.sources.len();
        let mut quiet = 0;
        let page = loop {
            let i = self.next % n;
            self.next = (i + 1) % n;
            let (items, etag) = match self.ask(&cursor, i).await {
                Ok(answer) => answer,
                Err(error) => {
                    self.cursor = Some(cursor);
                    return Err(error);
                }
            };
            if let (Some(source), Some(etag)) = (cursor.sources.get_mut(i), etag) {
                source.etag = Some(etag);
            }
            match items {
                Some(items) if !items.is_empty() => break (items, false),
                _ => quiet += 1,
            }
            if quiet >= n {
                break (Vec::new(), true);
            }
        };
        let (items, drained) = page;
        self.done = drained;
        let continuation = cursor.token();
        self.cursor = Some(cursor);
        Ok(ChangeFeedPage {
            items,
            continuation,
            request_charge: std::mem::take(&mut self.pending_charge),
            drained,
        })
    }
}

impl Container {
    /// The container's change feed, as `options` say: a stream of pages, each with the
    /// continuation that resumes right after it. Nothing is sent until it is polled;
    /// every request is a read through the driver's attempt loop (routed, retried and
    /// failed over like [`read_item`](Container::read_item), in the container's
    /// session). The stream ends with a [`drained`](ChangeFeedPage::drained) page.
    ///
    /// ```no_run
    /// # async fn demo(orders: meridian_driver::Container) -> Result<(), meridian_driver::DriverError> {
    /// use futures_util::TryStreamExt;
    /// use meridian_driver::{ChangeFeedOptions, ChangeFeedPage};
    /// let pages: Vec<ChangeFeedPage<serde_json::Value>> =
    ///     orders.change_feed(ChangeFeedOptions::from_beginning()).try_collect().await?;
    /// let saved = pages.last().map(|p| p.continuation.clone());
    /// # Ok(()) }
    /// ```
    pub fn change_feed<T: DeserializeOwned + Send + 'static>(
        &self,
        options: ChangeFeedOptions,
    ) -> ChangeFeed<T> {
        let (_, db, coll, _) = self.parts();
        let link = format!("dbs/{db}/colls/{coll}");
        let feed = Feed {
            container: self.clone(),
            options,
            cursor: None,
            next: 0,
            pending_charge: 0.0,
            done: false,
        };
        let pages = stream::unfold(feed, |mut feed| async move {
            if feed.done {
                return None;
            }
            let page = feed.step().await;
            if page.is_err() {
                feed.done = true;
            }
            Some((page, feed))
        });
        let inner = pages
            .map(move |page| {
                let page = page?;
                let items = page
                    .items
                    .into_iter()
                    .map(|item| crate::decode::from_value(item, &link))
                    .collect::<Result<Vec<T>, _>>()?;
                Ok(ChangeFeedPage {
                    items,
                    continuation: page.continuation,
                    request_charge: page.request_charge,
                    drained: page.drained,
                })
            })
            .boxed();
        ChangeFeed { inner }
    }
}
