//! The diagnostics a query answers with when asked: `x-ms-documentdb-query-metrics`
//! (`x-ms-documentdb-populatequerymetrics: true`) as the service's `key=value;…` list and
//! `x-ms-cosmos-index-utilization` (`x-ms-cosmos-populateindexmetrics: true`) as base64
//! JSON. The emulator does not time its phases (the times are 0) and keeps no index but the
//! partition key: a query scoped by it reports that index utilised, an aggregate over
//! constants retrieves no document; other document counts are the page's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::flag;

/// The metrics headers `request` asked for, for a page of `count` results. An
/// `index_only` query (aggregates over constants) retrieves no document; a query scoped by
/// the partition key `key_path` reports that path's index as utilised (the key is the
/// only index the emulator keeps).
pub(super) fn query_metrics(
    request: &HeaderMap,
    count: usize,
    index_only: bool,
    key_path: Option<&str>,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if flag(request, "x-ms-documentdb-populatequerymetrics") {
        let retrieved = if index_only { 0 } else { count };
        let metrics = format!(
            "totalExecutionTimeInMs=0.00;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;\
             queryPhysicalPlanBuildTimeInMs=0.00;queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=0.00;\
             indexLookupTimeInMs=0.00;documentLoadTimeInMs=0.00;systemFunctionExecuteTimeInMs=0.00;\
             userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount={retrieved};retrievedDocumentSize=0;\
             outputDocumentCount={count};outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=1.00"
        );
        if let Ok(value) = HeaderValue::from_str(&metrics) {
            headers.insert("x-ms-documentdb-query-metrics", value);
        }
    }
    if flag(request, "x-ms-cosmos-populateindexmetrics") {
        let utilized: Vec<Value> = key_path
            .map(|path| {
                json!({
                    "FilterExpression": "",
                    "IndexSpec": format!("{path}/?"),
                    "FilterPreciseSet": true,
                    "IndexPreciseSet": true,
                    "IndexImpactScore": "High",
                })
            })
            .into_iter()
            .collect();
        let json = json!({
            "UtilizedSingleIndexes": utilized,
            "PotentialSingleIndexes": [],
            "UtilizedCompositeIndexes": [],
            "PotentialCompositeIndexes": [],
        });
        if let Ok(value) = HeaderValue::from_str(&STANDARD.encode(json.to_string())) {
            headers.insert("x-ms-cosmos-index-utilization", value);
        }
    }
    headers
}
