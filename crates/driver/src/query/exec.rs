//! Running a query or a read feed page by page: one request per page, each through the
//! driver's attempt loop (routed and retried like a read), fanned out over partition key
//! ranges and merged as the query plan says.

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::group::{Dedup, Groups};
use super::merge::{self, Buffer, Combined, Next};
use super::plan::Plan;
use super::resume::Resume;
use super::source::{self, RawPage, Source, continuation_of, results};
use super::{Page, Query};
use crate::container::Container;
use crate::error::DriverError;
use crate::header_name::{Name, header_name};
use crate::operation::{Operation, Success};
use crate::options::QueryOptions;
use crate::request::Target;

mod checkpoint;

/// The content type of a query body, as the service requires it.
const QUERY_JSON: &str = "application/query+json";
/// What the plan may ask of the client (every rewrite the engine here merges).
const FEATURES: &str = "Aggregate, CompositeAggregate, Distinct, GroupBy, MultipleOrderBy, OrderBy, OffsetAndLimit, Top";
const SUPPORTED_FEATURES: Name = Name::new("x-ms-cosmos-supported-query-features");
/// A query over every range (the plan request, and a page of one range).
const CROSS_PARTITION: Name = Name::new("x-ms-documentdb-query-enablecrosspartition");

/// What each page request asks for.
#[derive(Debug, Clone)]
enum Request {
    /// A read feed of the container's items.
    Feed,
    /// A query; its body (`{"query","parameters"}`) is set once the plan is known.
    Query(Bytes),
}

/// How pages of the sources become pages of results.
#[derive(Debug)]
enum Mode {
    /// Not started: a cross-partition query first asks for its plan and the ranges.
    Planning,
    /// Each source's pages in turn, as they come.
    Concatenate,
    /// The `ORDER BY` merge of every range.
    OrderBy {
        buffers: Vec<Buffer>,
        descending: Vec<bool>,
    },
    /// One aggregate over every range.
    Aggregate(Combined),
    /// The groups of every range, combined by key.
    GroupBy(Groups),
}

/// A running query or feed.
pub(crate) struct Engine {
    container: Container,
    query: Query,
    options: QueryOptions,
    request: Request,
    mode: Mode,
    sources: Vec<Source>,
    /// Results still to skip (`OFFSET`) and still to return (`TOP`, `LIMIT`) after merging.
    skip: u64,
    take: Option<u64>,
    /// `DISTINCT` across ranges, before `OFFSET`/`TOP`/`LIMIT`.
    dedup: Dedup,
    /// Charges of requests not yet reported with a page (the plan, the ranges).
    pending_charge: f64,
    finished: bool,
}

impl Engine {
    pub(crate) fn query(container: Container, query: Query, options: QueryOptions) -> Self {
        let single = query.partition_key.is_some();
        let body = Self::body(&query, &query.sql);
        Self {
            sources: vec![Source {
                range: None,
                continuation: query.continuation.clone(),
                more: true,
            }],
            mode: if single {
                Mode::Concatenate
            } else {
                Mode::Planning
            },
            request: Request::Query(body),
            container,
            query,
            options,
            skip: 0,
            take: None,
            dedup: Dedup::default(),
            pending_charge: 0.0,
            finished: false,
        }
    }

    pub(crate) fn feed(container: Container, query: Query, options: QueryOptions) -> Self {
        let mut engine = Self::query(container, query, options);
        engine.request = Request::Feed;
        engine.mode = Mode::Concatenate;
        engine
    }

    fn body(query: &Query, sql: &str) -> Bytes {
        let parameters: Vec<Value> = query
            .parameters
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        Bytes::from(json!({"query": sql, "parameters": parameters}).to_string())
    }

    /// A read of the container's items (`…/docs`) in its session; with a query `body`, a
    /// POST of it (`application/query+json`, `isquery`).
    fn operation(&self, body: Option<Bytes>) -> Operation {
        let (_, db, coll, excluded) = self.container.parts();
        let link = format!("dbs/{db}/colls/{coll}");
        let operation = Operation::read(Target::items(db, coll)).excluding(excluded);
        let mut operation = super::with_options(operation, &self.options, &link);
        if body.is_some() {
            operation = operation
                .header(header_name!("content-type"), QUERY_JSON)
                .header(header_name!("x-ms-documentdb-isquery"), "true");
            operation.method = Method::POST;
        }
        operation.body = body;
        operation
    }

    async fn execute(&self, operation: &Operation) -> Result<Success, DriverError> {
        let (driver, ..) = self.container.parts();
        driver.inner.execute(operation).await
    }

    /// Asks for the plan and the partition key ranges, and sets the mode.
    async fn plan(&mut self) -> Result<(), DriverError> {
        let resume = match &self.query.continuation {
            Some(token) => Some(Resume::parse(token, &self.query)?),
            None => None,
        };
        let Request::Query(body) = &self.request else {
            return Ok(());
        };
        let operation = self
            .operation(Some(body.clone()))
            .header(header_name!("x-ms-cosmos-is-query-plan-request"), "true")
            .header(CROSS_PARTITION, "true")
            .header(SUPPORTED_FEATURES, FEATURES);
        let success = self.execute(&operation).await?;
        self.pending_charge += success.metadata.request_charge;
        let plan = Plan::parse(&success.body, &self.query.sql)?;
        self.request = Request::Query(Self::body(&self.query, &plan.query));
        self.skip = plan.offset.unwrap_or(0);
        self.take = match (plan.top, plan.limit) {
            (Some(top), Some(limit)) => Some(top.min(limit)),
            (top, limit) => top.or(limit),
        };
        self.dedup = Dedup::new(plan.distinct);
        if let Some(resume) = resume {
            return self.resume(&plan, resume);
        }
        let (sources, charge) = source::ranges(&self.container).await?;
        self.sources = sources;
        self.pending_charge += charge;
        self.mode = if let Some(group_by) = plan.group_by {
            Mode::GroupBy(Groups::new(group_by))
        } else if let Some(aggregate) = plan.aggregate {
            Mode::Aggregate(Combined::new(aggregate))
        } else if !plan.descending.is_empty() {
            Mode::OrderBy {
                buffers: self
                    .sources
                    .iter()
                    .map(|_| Buffer {
                        more: true,
                        ..Buffer::default()
                    })
                    .collect(),
                descending: plan.descending,
            }
        } else {
            Mode::Concatenate
        };
        Ok(())
    }

    /// Fetches the next page of source `i`.
    async fn fetch(&mut self, i: usize) -> Result<RawPage, DriverError> {
        let source = self.sources.get(i).cloned().unwrap_or_default();
        let mut operation = match &self.request {
            Request::Feed => self.operation(None),
            Request::Query(body) => self.operation(Some(body.clone())),
        };
        if let Some(pk) = &self.query.partition_key {
            operation = operation.header(header_name!("x-ms-documentdb-partitionkey"), pk.header());
        }
        if let Some(range) = &source.range {
            let range_id = header_name!("x-ms-documentdb-partitionkeyrangeid");
            let cross = header_name!("x-ms-documentdb-query-enablecrosspartition");
            operation = operation
                .header(cross, "true")
                .header(range_id, range.clone());
        }
        if let Some(n) = self
            .query
            .max_item_count
            .filter(|_| self.options.max_item_count.is_none())
        {
            operation = operation.header(header_name!("x-ms-max-item-count"), n.to_string());
        }
        if let Some(token) = &source.continuation {
            operation = operation.header(header_name!("x-ms-continuation"), token.clone());
        }
        let success = self.execute(&operation).await?;
        let page = RawPage {
            results: results(&success.body, "Documents")?,
            continuation: continuation_of(&success),
            charge: success.metadata.request_charge + std::mem::take(&mut self.pending_charge),
        };
        if let Some(source) = self.sources.get_mut(i) {
            source.continuation.clone_from(&page.continuation);
            source.more = page.continuation.is_some();
        }
        Ok(page)
    }

    /// Applies `OFFSET`/`TOP`/`LIMIT` to one merged result; `false` once enough are out.
    fn admit(&mut self, item: Value, items: &mut Vec<Value>) -> bool {
        if !self.dedup.admit(&item) {
            return self.take != Some(0);
        }
        if self.skip > 0 {
            self.skip -= 1;
        } else if self.take != Some(0) {
            items.push(item);
            self.take = self.take.map(|t| t.saturating_sub(1));
        }
        self.take != Some(0)
    }

    /// The next page of results; `None` when there are no more.
    pub(crate) async fn next_page(&mut self) -> Option<Result<Page<Value>, DriverError>> {
        if self.finished {
            return None;
        }
        if let Some(Err(error)) = self
            .options
            .consistency
            .map(|l| self.container.check_consistency(l))
        {
            self.finished = true;
            return Some(Err(error));
        }
        let page = self.step().await;
        if !matches!(page, Some(Ok(_))) {
            self.finished = true;
        }
        page
    }

    async fn step(&mut self) -> Option<Result<Page<Value>, DriverError>> {
        if matches!(self.mode, Mode::Planning)
            && let Err(error) = self.plan().await
        {
            return Some(Err(error));
        }
        match &self.mode {
            Mode::Planning | Mode::Concatenate => self.concatenate().await,
            Mode::OrderBy { .. } => self.order_by().await,
            Mode::Aggregate(_) | Mode::GroupBy(_) => self.aggregate().await,
        }
    }

    async fn concatenate(&mut self) -> Option<Result<Page<Value>, DriverError>> {
        let i = self.sources.iter().position(|s| s.more)?;
        let raw = match self.fetch(i).await {
            Ok(raw) => raw,
            Err(error) => return Some(Err(error)),
        };
        let mut items = Vec::with_capacity(raw.results.len());
        let mut open = true;
        for result in raw.results {
            open = self.admit(result, &mut items);
            if !open {
                break;
            }
        }
        if !open || self.sources.iter().all(|s| !s.more) {
            self.finished = true;
        }
        // A single stream resumes from the service's token; ranges from the driver's.
        let single = self.sources.len() == 1 && self.sources[0].range.is_none();
        let continuation = if single {
            raw.continuation.filter(|_| open)
        } else {
            self.token()
        };
        Some(Ok(Page {
            items,
            continuation,
            request_charge: raw.charge,
        }))
    }

    async fn order_by(&mut self) -> Option<Result<Page<Value>, DriverError>> {
        let mut items = Vec::new();
        let mut charge = 0.0;
        let mut fetched = false;
        loop {
            let Mode::OrderBy {
                buffers,
                descending,
            } = &mut self.mode
            else {
                return None;
            };
            match merge::next(buffers, descending) {
                Next::Item(None) => {}
                Next::Item(Some(item)) => {
                    if !self.admit(item, &mut items) {
                        self.finished = true;
                        break;
                    }
                }
                Next::Fetch(_) if !items.is_empty() => break,
                Next::Fetch(i) => {
                    let page_token = self.sources.get(i).and_then(|s| s.continuation.clone());
                    let raw = match self.fetch(i).await {
                        Ok(raw) => raw,
                        Err(error) => return Some(Err(error)),
                    };
                    fetched = true;
                    charge += raw.charge;
                    if let Mode::OrderBy { buffers, .. } = &mut self.mode
                        && let Some(buffer) = buffers.get_mut(i)
                    {
                        buffer.results.extend(raw.results);
                        // A resumed merge drops what it had already returned.
                        let skip = std::mem::take(&mut buffer.skip);
                        buffer.results.drain(..skip.min(buffer.results.len()));
                        buffer.consumed = skip;
                        buffer.page_token = page_token;
                        buffer.more = raw.continuation.is_some();
                    }
                }
                Next::Done => {
                    self.finished = true;
                    break;
                }
            }
        }
        let continuation = self.token();
        (fetched || !items.is_empty()).then_some(Ok(Page {
            items,
            continuation,
            request_charge: charge,
        }))
    }

    async fn aggregate(&mut self) -> Option<Result<Page<Value>, DriverError>> {
        let mut charge = 0.0;
        while let Some(i) = self.sources.iter().position(|s| s.more) {
            let raw = match self.fetch(i).await {
                Ok(raw) => raw,
                Err(error) => return Some(Err(error)),
            };
            charge += raw.charge;
            match &mut self.mode {
                Mode::Aggregate(combined) => raw.results.iter().for_each(|r| combined.add(r)),
                Mode::GroupBy(groups) => raw.results.iter().for_each(|r| groups.add(r)),
                _ => {}
            }
        }
        self.finished = true;
        let results = match std::mem::replace(&mut self.mode, Mode::Concatenate) {
            Mode::Aggregate(combined) => combined.finish().into_iter().collect(),
            Mode::GroupBy(groups) => groups.finish(),
            _ => return None,
        };
        let mut items = Vec::new();
        for value in results {
            if !self.admit(value, &mut items) {
                break;
            }
        }
        Some(Ok(Page {
            items,
            continuation: None,
            request_charge: charge,
        }))
    }
}
