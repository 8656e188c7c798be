//! The emulator's SQL subset: arbitrary query text (with parameters `@n` and `@s`) over a
//! fixed set of items of every JSON type, through the parser, the evaluator and the
//! query planner. The whole input is the query text, so the seeds are plain SQL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_emulator::query::{QueryError, query_plan, run_query};
use serde_json::{Value, json};

fn items() -> Vec<Value> {
    vec![
        json!({"id": "a", "pk": "p1", "n": 3, "s": "Alpha", "t": ["x", 1], "o": {"k": null}}),
        json!({"id": "b", "pk": "p1", "n": -1.5, "s": "", "t": [], "b": true}),
        json!({"id": "c", "pk": "p2", "n": "3", "s": null, "o": {"k": {"deep": [1, 2]}}}),
        json!({"id": "d", "pk": {"x": 1}}),
    ]
}

fuzz_target!(|text: &str| {
    let body = json!({
        "query": text,
        "parameters": [{"name": "@n", "value": 2}, {"name": "@s", "value": "p1"}],
    });
    let items = items();
    let results = run_query(&body, &items);
    let plan = query_plan(&body);
    // The planner and the evaluator share one parser: they refuse the same queries, except
    // that the planner also refuses a query whose rewritten form is over the limits.
    match (&results, &plan) {
        (Ok(_), Ok(_)) | (Err(_), Err(_)) | (Ok(_), Err(QueryError::Plan(_))) => {}
        _ => panic!("{text:?}: {results:?} vs {plan:?}"),
    }
    if let Err(QueryError::Syntax { position, .. }) = &results {
        assert!(*position <= text.len(), "a position inside the text");
    }
    let Ok(plan) = plan else { return };
    // What an SDK sends back (placeholder filled in) must run too.
    let rewritten = plan["queryInfo"]["rewrittenQuery"].as_str().unwrap_or_default();
    if !rewritten.is_empty() {
        let sdk = rewritten.replace("{documentdb-formattableorderbyquery-filter}", "true");
        let rerun = run_query(&json!({"query": sdk}), &items);
        assert!(rerun.is_ok(), "{text:?} rewritten to {sdk:?}: {rerun:?}");
    }
});
