//! The SQL people write (issue 27): DISTINCT, JOIN, subqueries, LIKE and the system
//! functions, checked without HTTP against the service's documented results.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::{DEFAULT_QUERY_BUDGET, QueryError, QuerySpec};

fn run_over(text: &str, items: &[Value]) -> Vec<Value> {
    QuerySpec::new(text.to_string())
        .run(items, DEFAULT_QUERY_BUDGET)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn one(text: &str) -> Value {
    let rows = run_over(text, &[json!({"id": "only"})]);
    assert_eq!(rows.len(), 1, "{text}: {rows:?}");
    rows.into_iter().next().unwrap()
}

fn families() -> Vec<Value> {
    vec![
        json!({"id": "f1", "city": "Seattle", "tags": ["x", "y"], "o": {"a": 1, "b": 2},
               "children": [{"name": "Ann", "age": 8, "pets": ["dog", "cat"]},
                            {"name": "Bo", "age": 3, "pets": []}]}),
        json!({"id": "f2", "city": "Paris", "tags": ["y"], "o": {"b": 2, "a": 1},
               "children": [{"name": "Cy", "age": 12, "pets": ["fish"]}]}),
        json!({"id": "f3", "city": "Seattle", "tags": [], "children": []}),
        json!({"id": "f4", "tags": ["x"], "o": {"a": 2}}),
    ]
}

#[test]
fn distinct_and_distinct_value_remove_duplicates() {
    let items = families();
    assert_eq!(
        run_over("SELECT DISTINCT c.city FROM c", &items),
        vec![
            json!({"city": "Seattle"}),
            json!({"city": "Paris"}),
            json!({})
        ]
    );
    assert_eq!(
        run_over("SELECT DISTINCT VALUE c.city FROM c", &items),
        vec![json!("Seattle"), json!("Paris")]
    );
    assert_eq!(
        run_over(
            "SELECT DISTINCT VALUE c.city FROM c ORDER BY c.city",
            &items
        ),
        vec![json!("Paris"), json!("Seattle")]
    );
    // Objects are equal whatever the order of their fields.
    assert_eq!(
        run_over("SELECT DISTINCT VALUE c.o FROM c", &items),
        vec![json!({"a": 1, "b": 2}), json!({"a": 2})]
    );
    // TOP and OFFSET/LIMIT count distinct results.
    assert_eq!(
        run_over("SELECT DISTINCT TOP 1 VALUE c.city FROM c", &items),
        vec![json!("Seattle")]
    );
    assert_eq!(
        run_over(
            "SELECT DISTINCT VALUE t FROM c JOIN t IN c.tags ORDER BY t OFFSET 1 LIMIT 5",
            &items
        ),
        vec![json!("y")]
    );
}

#[test]
fn join_over_arrays_with_filters() {
    let items = families();
    assert_eq!(
        run_over(
            "SELECT c.id, ch.name FROM c JOIN ch IN c.children WHERE ch.age > 5",
            &items
        ),
        vec![
            json!({"id": "f1", "name": "Ann"}),
            json!({"id": "f2", "name": "Cy"})
        ]
    );
    assert_eq!(
        run_over(
            "SELECT VALUE [c.id, ch.name, p] FROM c JOIN ch IN c.children JOIN p IN ch.pets WHERE p != 'cat' AND c.city = 'Seattle'",
            &items
        ),
        vec![json!(["f1", "Ann", "dog"])]
    );
    // A cross product of two joins over the same item.
    assert_eq!(
        run_over(
            "SELECT VALUE COUNT(1) FROM c JOIN a IN c.tags JOIN b IN c.tags",
            &items
        ),
        vec![json!(4 + 1 + 1)]
    );
    assert_eq!(
        run_over(
            "SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.id = 'f1' ORDER BY t DESC",
            &items
        ),
        vec![json!("y"), json!("x")]
    );
    // A join over something that is not an array makes no rows.
    assert!(run_over("SELECT VALUE c.id FROM c JOIN t IN c.city", &items).is_empty());
    // A runaway cross product is ended by the work budget, not by memory.
    let wide = vec![json!({"id": "w", "a": (0..1000).collect::<Vec<_>>()})];
    let refused = QuerySpec::new(
        "SELECT VALUE 1 FROM c JOIN x IN c.a JOIN y IN c.a JOIN z IN c.a".to_string(),
    )
    .run(&wide, DEFAULT_QUERY_BUDGET)
    .unwrap_err();
    assert!(matches!(refused, QueryError::Budget { .. }), "{refused}");
    // And at most ten JOINs, as the service allows.
    let joins = |n: usize| {
        let joins: String = (0..n).map(|i| format!(" JOIN j{i} IN c.a")).collect();
        format!("SELECT VALUE 1 FROM c{joins}")
    };
    let refused = QuerySpec::new(joins(11)).run(&wide, DEFAULT_QUERY_BUDGET);
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("more than 10 JOINs"),
        "eleven joins"
    );
    assert!(run_over(&joins(10), &[json!({"a": [1]})]) == vec![json!(1)]);
}

#[test]
fn exists_and_array_subqueries() {
    let items = families();
    assert_eq!(
        run_over(
            "SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'x')",
            &items
        ),
        vec![json!("f1"), json!("f4")]
    );
    assert_eq!(
        run_over(
            "SELECT c.id, ARRAY(SELECT VALUE ch.name FROM ch IN c.children WHERE ch.age < 10) AS young FROM c WHERE IS_DEFINED(c.children)",
            &items
        ),
        vec![
            json!({"id": "f1", "young": ["Ann", "Bo"]}),
            json!({"id": "f2", "young": []}),
            json!({"id": "f3", "young": []})
        ]
    );
    // Scalar subqueries, with aggregates of their own.
    assert_eq!(
        run_over(
            "SELECT VALUE {\"id\": c.id, \"n\": (SELECT VALUE COUNT(1) FROM t IN c.tags), \"oldest\": (SELECT VALUE MAX(ch.age) FROM ch IN c.children)} FROM c",
            &items
        ),
        vec![
            json!({"id": "f1", "n": 2, "oldest": 8}),
            json!({"id": "f2", "n": 1, "oldest": 12}),
            json!({"id": "f3", "n": 0}),
            json!({"id": "f4", "n": 1})
        ]
    );
    // Nested and correlated with both the item and the outer subquery's row.
    assert_eq!(
        run_over(
            "SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE ch FROM ch IN c.children WHERE EXISTS(SELECT VALUE p FROM p IN ch.pets WHERE p = 'fish' AND c.city = 'Paris'))",
            &items
        ),
        vec![json!("f2")]
    );
    // A join's binding inside a subquery.
    assert_eq!(
        run_over(
            "SELECT VALUE ch.name FROM c JOIN ch IN c.children WHERE ARRAY_LENGTH(ARRAY(SELECT VALUE p FROM p IN ch.pets)) > 0",
            &items
        ),
        vec![json!("Ann"), json!("Cy")]
    );
}

#[test]
fn like_with_wildcards_and_escape() {
    let names = ["apple", "Apple", "banana", "a%b", "ab", "cab"];
    let items: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
    let items: Vec<Value> = items
        .into_iter()
        .chain([json!({"name": 5}), json!({})])
        .collect();
    let matching = |pattern: &str| {
        run_over(
            &format!("SELECT VALUE c.name FROM c WHERE c.name {pattern}"),
            &items,
        )
    };
    assert_eq!(
        matching("LIKE 'a%'"),
        vec![json!("apple"), json!("a%b"), json!("ab")]
    );
    assert_eq!(
        matching("LIKE '%b'"),
        vec![json!("a%b"), json!("ab"), json!("cab")]
    );
    assert_eq!(matching("LIKE '_b'"), vec![json!("ab")]);
    assert_eq!(matching("LIKE '[ab]%a'"), vec![json!("banana")]);
    assert_eq!(
        matching("LIKE '[^a]%'"),
        vec![json!("Apple"), json!("banana"), json!("cab")]
    );
    assert_eq!(matching("LIKE 'a!%b' ESCAPE '!'"), vec![json!("a%b")]);
    assert_eq!(matching("LIKE 'a\\\\%b' ESCAPE '\\\\'"), vec![json!("a%b")]);
    // NOT LIKE: non-strings are undefined either way.
    assert_eq!(matching("NOT LIKE '%a%'"), vec![json!("Apple")]);
    assert_eq!(
        matching("NOT LIKE 'a%'"),
        vec![json!("Apple"), json!("banana"), json!("cab")]
    );
}

#[test]
fn system_functions_match_the_services_results() {
    let cases = [
        // Type checks.
        ("IS_ARRAY([1])", json!(true)),
        ("IS_BOOL(0)", json!(false)),
        ("IS_NULL(null)", json!(true)),
        ("IS_NUMBER('1')", json!(false)),
        ("IS_OBJECT({})", json!(true)),
        ("IS_STRING('a')", json!(true)),
        ("IS_PRIMITIVE(null)", json!(true)),
        ("IS_PRIMITIVE([1])", json!(false)),
        // Math.
        ("ABS(-1)", json!(1)),
        ("CEILING(1.2)", json!(2)),
        ("FLOOR(-1.2)", json!(-2)),
        ("ROUND(2.5)", json!(3)),
        ("ROUND(-2.5)", json!(-3)),
        ("TRUNC(-2.7)", json!(-2)),
        ("SQRT(16)", json!(4)),
        ("POWER(2, 10)", json!(1024)),
        ("LOG10(100)", json!(2)),
        ("EXP(0)", json!(1)),
        ("SIGN(-5)", json!(-1)),
        ("SQUARE(3)", json!(9)),
        // Strings.
        ("CONTAINS('AdventureWorks', 'adventure')", json!(false)),
        ("CONTAINS('AdventureWorks', 'adventure', true)", json!(true)),
        ("STARTSWITH('abc', 'A', true)", json!(true)),
        ("ENDSWITH('abc', 'C')", json!(false)),
        ("ENDSWITH('abc', 'C', true)", json!(true)),
        ("SUBSTRING('abc', 1, 1)", json!("b")),
        (
            "REPLACE('This is a Test', 'Test', 'desk')",
            json!("This is a desk"),
        ),
        ("INDEX_OF('abcb', 'b')", json!(1)),
        ("INDEX_OF('abcb', 'b', 2)", json!(3)),
        ("INDEX_OF('abc', 'x')", json!(-1)),
        ("STRINGTOARRAY('[1, \"a\", null]')", json!([1, "a", null])),
        ("UPPER('abc')", json!("ABC")),
        ("LOWER('ABC')", json!("abc")),
        ("LTRIM('  a ')", json!("a ")),
        ("RTRIM('  a ')", json!("  a")),
        ("TRIM('  a ')", json!("a")),
        ("LEFT('abc', 2)", json!("ab")),
        ("RIGHT('abc', 2)", json!("bc")),
        ("REVERSE('abc')", json!("cba")),
        ("LENGTH('abc')", json!(3)),
        ("TOSTRING(6)", json!("6")),
        ("TOSTRING(1.5)", json!("1.5")),
        ("TOSTRING([1, 'a'])", json!("[1,\"a\"]")),
        // Arrays.
        ("ARRAY_LENGTH([1, 2, 3])", json!(3)),
        ("ARRAY_SLICE(['a', 'b', 'c', 'd'], 1, 2)", json!(["b", "c"])),
        ("ARRAY_SLICE(['a', 'b', 'c', 'd'], -2, 1)", json!(["c"])),
        ("ARRAY_SLICE(['a', 'b', 'c', 'd'], 2)", json!(["c", "d"])),
        ("ARRAY_CONCAT(['a'], ['b'], [])", json!(["a", "b"])),
        ("ARRAY_CONTAINS([{'a': 1, 'b': 2}], {'a': 1})", json!(false)),
        (
            "ARRAY_CONTAINS([{'a': 1, 'b': 2}], {'a': 1}, true)",
            json!(true),
        ),
        // Dates (the documentation's examples).
        (
            "DateTimeAdd('mm', 1, '2020-07-09T23:20:13.4575530Z')",
            json!("2020-08-09T23:20:13.4575530Z"),
        ),
        (
            "DateTimeAdd('dd', 1, '2020-02-28T00:00:00.0000000Z')",
            json!("2020-02-29T00:00:00.0000000Z"),
        ),
        (
            "DateTimeAdd('mm', 1, '2021-01-31T00:00:00Z')",
            json!("2021-02-28T00:00:00.0000000Z"),
        ),
        (
            "DateTimeDiff('yyyy', '2019-02-04T16:00:00.0000000', '2018-03-05T05:00:00.0000000')",
            json!(-1),
        ),
        (
            "DateTimeDiff('mm', '2019-02-04T16:00:00.0000000', '2018-03-05T05:00:00.0000000')",
            json!(-11),
        ),
        (
            "DateTimeDiff('dd', '2019-02-04T16:00:00.0000000', '2018-03-05T05:00:00.0000000')",
            json!(-336),
        ),
        (
            "DateTimeDiff('hh', '2018-03-05T05:00:00.0000000', '2019-02-04T16:00:00.0000000')",
            json!(8075),
        ),
        (
            "DateTimeDiff('ss', '2018-03-05T05:00:00.0000000', '2019-02-04T16:00:00.0000000')",
            json!(29_070_000),
        ),
        (
            "DateTimePart('yyyy', '2016-05-29T08:30:00.1301617')",
            json!(2016),
        ),
        (
            "DateTimePart('mm', '2016-05-29T08:30:00.1301617')",
            json!(5),
        ),
        (
            "DateTimePart('hh', '2016-05-29T08:30:00.1301617')",
            json!(8),
        ),
        (
            "DateTimePart('mcs', '2016-05-29T08:30:00.1301617')",
            json!(130_161),
        ),
        (
            "DateTimePart('ns', '2016-05-29T08:30:00.1301617')",
            json!(130_161_700),
        ),
    ];
    for (call, expected) in cases {
        assert_eq!(
            one(&format!("SELECT VALUE {call} FROM c")),
            expected,
            "{call}"
        );
    }
    // Undefined results: wrong types, malformed input.
    for call in [
        "ABS('a')",
        "STRINGTOARRAY('[1, 2')",
        "SQRT(-1)",
        "DateTimeAdd('mm', 1, 'not a date')",
        "DateTimePart('fortnight', '2016-05-29T08:30:00Z')",
        "ARRAY_LENGTH('abc')",
    ] {
        let rows = run_over(&format!("SELECT VALUE {call} FROM c"), &[json!({})]);
        assert!(rows.is_empty(), "{call}: {rows:?}");
    }
    let now = one("SELECT VALUE GetCurrentDateTime() FROM c");
    let now = now.as_str().unwrap();
    assert_eq!(now.len(), 28, "{now}");
    assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    // Every function the README lists is known, and every known one is listed.
    let readme = include_str!("../../README.md");
    for name in super::function::Function::names() {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
    }
}

#[test]
fn group_by_keys_aggregates_and_refusals() {
    // Groups come in the order of their keys (so a continuation can name one).
    let items = families();
    let rows = run_over(
        "SELECT c.city, COUNT(1) AS n, LOWER(c.city) AS low FROM c GROUP BY c.city",
        &items,
    );
    assert_eq!(
        rows,
        vec![
            json!({"city": "Paris", "n": 1, "low": "paris"}),
            json!({"city": "Seattle", "n": 2, "low": "seattle"}),
            json!({"n": 1}),
        ]
    );
    let refused = QuerySpec::new("SELECT c.id, COUNT(1) AS n FROM c GROUP BY c.city".to_string())
        .run(&items, DEFAULT_QUERY_BUDGET)
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not contained in either an aggregate function or the GROUP BY clause"),
        "{refused}"
    );
}
