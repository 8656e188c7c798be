//! Queries and read feeds: a [`Query`], and the streams of items and of [`Page`]s that
//! [`Container::query`] and [`Container::read_all`] return.
//!
//! A query with a [partition key](Query::partition_key) runs in that partition: its pages
//! are the service's, and a page's continuation resumes it. Without one it is
//! cross-partition, as the official SDKs run it: the driver asks for the query plan
//! (`x-ms-cosmos-is-query-plan-request`), lists the partition key ranges (`…/pkranges`),
//! sends the plan's rewritten query to each range (`x-ms-documentdb-partitionkeyrangeid`)
//! and combines the answers: ranges one after the other, a k-way merge for `ORDER BY`,
//! one combined value for `SELECT VALUE COUNT/SUM/MIN/MAX/AVG`, then `OFFSET`/`TOP`/`LIMIT`
//! over the merged results. Every request is a read through the driver's attempt loop:
//! routed to the preferred read region, retried and failed over like
//! [`read_item`](Container::read_item), carrying the container's session token.

mod exec;
mod group;
mod merge;
mod plan;
mod resume;
mod source;

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::operation::Operation;
use crate::options::QueryOptions;
use exec::Engine;
pub(crate) use source::{range_ids, results};

/// A SQL query with its parameters and options.
///
/// ```
/// use meridian_driver::Query;
/// let query = Query::new("SELECT * FROM c WHERE c.total > @min")
///     .param("@min", 10)
///     .partition_key("eu")
///     .max_item_count(50);
/// ```
#[derive(Debug, Clone)]
pub struct Query {
    sql: String,
    parameters: Vec<(String, Value)>,
    partition_key: Option<PartitionKey>,
    max_item_count: Option<u32>,
    continuation: Option<String>,
}

impl Query {
    /// A query of the service's SQL (`SELECT … FROM c …`).
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            parameters: Vec::new(),
            partition_key: None,
            max_item_count: None,
            continuation: None,
        }
    }

    /// Binds `@name` to `value` (any JSON value: `json!(…)`, a string, a number…).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.push((name.into(), value.into()));
        self
    }

    /// Runs the query in one partition (no plan, no fan-out).
    pub fn partition_key(mut self, pk: impl Into<PartitionKey>) -> Self {
        self.partition_key = Some(pk.into());
        self
    }

    /// At most `n` results per page request (the service caps it; `0` leaves the
    /// service's default).
    pub fn max_item_count(mut self, n: u32) -> Self {
        self.max_item_count = (n > 0).then_some(n);
        self
    }

    /// Resumes the query (or read feed) right after the page whose
    /// [`continuation`](Page::continuation) this is — in this process or another. A
    /// cross-partition query's token holds every range's state; one of another query,
    /// or one this driver did not make, fails with [`DriverError::Config`].
    pub fn continuation(mut self, token: impl Into<String>) -> Self {
        self.continuation = Some(token.into());
        self
    }
}

/// `operation` (a page, plan or ranges request) with the query's options applied.
fn with_options(operation: Operation, options: &QueryOptions, link: &str) -> Operation {
    let mut operation = operation
        .session(link.into(), options.sends_session())
        .with_common(&options.common);
    if let Some(level) = options.consistency {
        operation = operation.header(header_name!("x-ms-consistency-level"), level.as_str());
    }
    if let Some(n) = options.max_item_count {
        operation = operation.header(header_name!("x-ms-max-item-count"), n.to_string());
    }
    operation
}

/// One page of results.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<T> {
    /// The results, in order.
    pub items: Vec<T>,
    /// The token that resumes after this page ([`Query::continuation`]) while more
    /// remain; `None` on the last page and for aggregates (one page). Opaque; a
    /// cross-partition query's (`ORDER BY` included) holds every range's state.
    pub continuation: Option<String>,
    /// Request units charged for the requests that made this page (the first page of a
    /// cross-partition query includes its plan and range requests).
    pub request_charge: f64,
}

/// The pages of a query or read feed, each a `Result`. After an error the stream ends.
pub struct Pages<T> {
    inner: BoxStream<'static, Result<Page<T>, DriverError>>,
}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pages<T> {
    fn new(engine: Engine, container: &Container) -> Self {
        let (_, db, coll, _) = container.parts();
        let link = format!("dbs/{db}/colls/{coll}");
        let pages = stream::unfold(engine, |mut engine| async move {
            let page = engine.next_page().await?;
            Some((page, engine))
        });
        let inner = pages
            .map(move |page| {
                let page = page?;
                let items = page
                    .items
                    .into_iter()
                    .map(|item| crate::decode::from_value(item, &link))
                    .collect::<Result<Vec<T>, _>>()?;
                Ok(Page {
                    items,
                    continuation: page.continuation,
                    request_charge: page.request_charge,
                })
            })
            .boxed();
        Self { inner }
    }
}

impl<T> Stream for Pages<T> {
    type Item = Result<Page<T>, DriverError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The results of a query or read feed, one by one, fetched a page at a time;
/// [`pages`](Items::pages) gives the pages instead.
pub struct Items<T> {
    pages: Pages<T>,
    buffered: VecDeque<T>,
}

impl<T> Unpin for Items<T> {}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("buffered", &self.buffered.len())
            .finish_non_exhaustive()
    }
}

impl<T> Items<T> {
    /// The pages, with their continuation tokens and request charges. Results this
    /// stream has already buffered are not repeated.
    pub fn pages(self) -> Pages<T> {
        self.pages
    }
}

impl<T> Stream for Items<T> {
    type Item = Result<T, DriverError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match self.pages.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(page))) => self.buffered.extend(page.items),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Container {
    /// Runs `query`; the results arrive as a stream, fetched a page at a time
    /// (`.pages()` for the pages). Nothing is sent until the stream is polled.
    ///
    /// ```no_run
    /// # async fn demo(orders: meridian_driver::Container) -> Result<(), meridian_driver::DriverError> {
    /// use futures_util::TryStreamExt;
    /// use meridian_driver::Query;
    /// let sql = "SELECT VALUE c.total FROM c WHERE c.total > @min ORDER BY c.total DESC";
    /// let query = Query::new(sql).param("@min", 10);
    /// let totals: Vec<u32> = orders.query::<u32>(query).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn query<T: DeserializeOwned + Send + 'static>(&self, query: Query) -> Items<T> {
        self.query_with(query, QueryOptions::default())
    }

    /// [`query`](Self::query) with options: consistency, session token, page size,
    /// excluded regions, deadline (per page request).
    pub fn query_with<T: DeserializeOwned + Send + 'static>(
        &self,
        query: Query,
        options: QueryOptions,
    ) -> Items<T> {
        Items {
            pages: Pages::new(Engine::query(self.clone(), query, options), self),
            buffered: VecDeque::new(),
        }
    }

    /// Reads every item of the container (its read feed), a page at a time.
    pub fn read_all<T: DeserializeOwned + Send + 'static>(&self) -> Items<T> {
        self.read_feed(Query::new(""))
    }

    /// Reads the container's items with `options`: its partition key, page size and
    /// continuation (the SQL and parameters are ignored).
    pub fn read_feed<T: DeserializeOwned + Send + 'static>(&self, options: Query) -> Items<T> {
        Items {
            pages: Pages::new(
                Engine::feed(self.clone(), options, QueryOptions::default()),
                self,
            ),
            buffered: VecDeque::new(),
        }
    }
}
