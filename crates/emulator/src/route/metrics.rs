//! The diagnostics a query answers with when asked: `x-ms-documentdb-query-metrics`
//! (`x-ms-documentdb-populatequerymetrics: true`) as the service's `key=value;…` list and
//! `x-ms-cosmos-index-utilization` (`x-ms-cosmos-populateindexmetrics: true`) as base64
//! JSON. The emulator keeps no index and does not time its phases: the times are 0 and
//! the index lists empty; the document counts are the page's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};

use super::flag;

/// The metrics headers `request` asked for, for a page of `count` results.
pub(super) fn query_metrics(request: &HeaderMap, count: usize) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if flag(request, "x-ms-documentdb-populatequerymetrics") {
        let metrics = format!(
            "totalExecutionTimeInMs=0.00;queryCompileTimeInMs=0.00;queryLogicalPlanBuildTimeInMs=0.00;\
             queryPhysicalPlanBuildTimeInMs=0.00;queryOptimizationTimeInMs=0.00;VMExecutionTimeInMs=0.00;\
             indexLookupTimeInMs=0.00;documentLoadTimeInMs=0.00;systemFunctionExecuteTimeInMs=0.00;\
             userFunctionExecuteTimeInMs=0.00;retrievedDocumentCount={count};retrievedDocumentSize=0;\
             outputDocumentCount={count};outputDocumentSize=0;writeOutputTimeInMs=0.00;indexUtilizationRatio=1.00"
        );
        if let Ok(value) = HeaderValue::from_str(&metrics) {
            headers.insert("x-ms-documentdb-query-metrics", value);
        }
    }
    if flag(request, "x-ms-cosmos-populateindexmetrics") {
        let json = r#"{"UtilizedSingleIndexes":[],"PotentialSingleIndexes":[],"UtilizedCompositeIndexes":[],"PotentialCompositeIndexes":[]}"#;
        if let Ok(value) = HeaderValue::from_str(&STANDARD.encode(json)) {
            headers.insert("x-ms-cosmos-index-utilization", value);
        }
    }
    headers
}
