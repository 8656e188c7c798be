//! A differential test: queries generated from fixed seeds over generated documents, run
//! by the engine (from their SQL text) and by a plain reference evaluator written here
//! (over the generator's own tree, without the engine's parser, scopes or budget), results
//! compared. A mismatch prints the query and the documents.

use std::cmp::Ordering;

use serde_json::{Value, json};

use meridian_emulator::query::run_query;

/// A predicate over a row (the document `c`, and `t` when the query joins `c.tags`).
#[derive(Debug, Clone)]
enum Pred {
    /// `c.field <op> literal`.
    Cmp(&'static str, &'static str, Value),
    Defined(&'static str),
    StartsWith(&'static str, &'static str),
    Like(&'static str, &'static str),
    In(&'static str, Vec<Value>),
    TagsContain(&'static str),
    /// `EXISTS(SELECT VALUE x FROM x IN c.tags WHERE x = 'lit')`.
    ExistsTag(&'static str),
    /// `t = 'lit'` (joins only).
    JoinedIs(&'static str),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
}

/// What a generated query selects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Star,
    ValueId,
    IdAndN,
    ValueTag,
    IdAndTag,
    DistinctS,
    DistinctTag,
    Count,
    Sum,
    Min,
    Max,
    GroupByPk,
}

#[derive(Debug, Clone)]
struct Gen {
    shape: Shape,
    join: bool,
    filter: Option<Pred>,
    /// `ORDER BY c.id`, descending?
    order: Option<bool>,
    /// `OFFSET a LIMIT b` (with ORDER BY).
    window: Option<(u64, u64)>,
}

const FIELDS: [&str; 2] = ["n", "s"];
const WORDS: [&str; 5] = ["apple", "apricot", "banana", "Berry", "a%c"];
const TAGS: [&str; 3] = ["x", "y", "z"];

fn literal(rng: &mut fastrand::Rng, field: &str) -> Value {
    match (field, rng.u8(0..4)) {
        ("n", 0) => json!("3"),
        ("n", _) => json!(rng.i64(0..6)),
        (_, 0) => json!(2),
        _ => json!(WORDS[rng.usize(0..WORDS.len())]),
    }
}

fn pred(rng: &mut fastrand::Rng, depth: u32, join: bool) -> Pred {
    let field = FIELDS[rng.usize(0..2)];
    let tag = TAGS[rng.usize(0..3)];
    let choice = rng.u8(0..if depth > 0 { 12 } else { 9 });
    match choice {
        0 | 1 => {
            let op = ["=", "!=", "<", ">", "<=", ">="][rng.usize(0..6)];
            Pred::Cmp(field, op, literal(rng, field))
        }
        2 => Pred::Defined(field),
        3 => Pred::StartsWith("s", ["a", "B", "ap", ""][rng.usize(0..4)]),
        4 => Pred::Like(
            "s",
            ["a%", "%a%", "_pple", "%y", "a!%c", "b_n%"][rng.usize(0..6)],
        ),
        5 => Pred::In(field, vec![literal(rng, field), literal(rng, field)]),
        6 => Pred::TagsContain(tag),
        7 => Pred::ExistsTag(tag),
        8 if join => Pred::JoinedIs(tag),
        8 => Pred::Defined("tags"),
        9 => Pred::Not(Box::new(pred(rng, depth - 1, join))),
        10 => Pred::And(
            Box::new(pred(rng, depth - 1, join)),
            Box::new(pred(rng, depth - 1, join)),
        ),
        _ => Pred::Or(
            Box::new(pred(rng, depth - 1, join)),
            Box::new(pred(rng, depth - 1, join)),
        ),
    }
}

fn generate(rng: &mut fastrand::Rng) -> Gen {
    let shapes = [
        Shape::Star,
        Shape::ValueId,
        Shape::IdAndN,
        Shape::ValueTag,
        Shape::IdAndTag,
        Shape::DistinctS,
        Shape::DistinctTag,
        Shape::Count,
        Shape::Sum,
        Shape::Min,
        Shape::Max,
        Shape::GroupByPk,
    ];
    let shape = shapes[rng.usize(0..shapes.len())];
    let join = match shape {
        Shape::ValueTag | Shape::IdAndTag | Shape::DistinctTag => true,
        Shape::Star | Shape::GroupByPk | Shape::DistinctS => false,
        _ => rng.bool(),
    };
    let aggregate = matches!(
        shape,
        Shape::Count | Shape::Sum | Shape::Min | Shape::Max | Shape::GroupByPk
    );
    let order = (!aggregate && rng.bool()).then(|| rng.bool());
    let window = (order.is_some() && rng.u8(0..3) == 0).then(|| (rng.u64(0..3), rng.u64(1..5)));
    let filter = (rng.u8(0..4) != 0).then(|| pred(rng, 2, join));
    Gen {
        shape,
        join,
        filter,
        order,
        window,
    }
}

fn lit_sql(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn pred_sql(p: &Pred) -> String {
    match p {
        Pred::Cmp(f, op, v) => format!("c.{f} {op} {}", lit_sql(v)),
        Pred::Defined(f) => format!("IS_DEFINED(c.{f})"),
        Pred::StartsWith(f, prefix) => format!("STARTSWITH(c.{f}, '{prefix}')"),
        Pred::Like(f, pattern) if pattern.contains('!') => {
            format!("c.{f} LIKE '{pattern}' ESCAPE '!'")
        }
        Pred::Like(f, pattern) => format!("c.{f} LIKE '{pattern}'"),
        Pred::In(f, items) => {
            let items: Vec<String> = items.iter().map(lit_sql).collect();
            format!("c.{f} IN ({})", items.join(", "))
        }
        Pred::TagsContain(tag) => format!("ARRAY_CONTAINS(c.tags, '{tag}')"),
        Pred::ExistsTag(tag) => {
            format!("EXISTS(SELECT VALUE x FROM x IN c.tags WHERE x = '{tag}')")
        }
        Pred::JoinedIs(tag) => format!("t = '{tag}'"),
        Pred::Not(p) => format!("NOT ({})", pred_sql(p)),
        Pred::And(a, b) => format!("({}) AND ({})", pred_sql(a), pred_sql(b)),
        Pred::Or(a, b) => format!("({}) OR ({})", pred_sql(a), pred_sql(b)),
    }
}

fn sql(g: &Gen) -> String {
    let select = match g.shape {
        Shape::Star => "*",
        Shape::ValueId => "VALUE c.id",
        Shape::IdAndN => "c.id, c.n",
        Shape::ValueTag => "VALUE t",
        Shape::IdAndTag => "c.id, t AS tag",
        Shape::DistinctS => "DISTINCT VALUE c.s",
        Shape::DistinctTag => "DISTINCT VALUE t",
        Shape::Count => "VALUE COUNT(1)",
        Shape::Sum => "VALUE SUM(c.n)",
        Shape::Min => "VALUE MIN(c.s)",
        Shape::Max => "VALUE MAX(c.n)",
        Shape::GroupByPk => "c.pk, COUNT(1) AS k, MAX(c.n) AS hi",
    };
    let mut text = format!("SELECT {select} FROM c");
    if g.join {
        text.push_str(" JOIN t IN c.tags");
    }
    if let Some(p) = &g.filter {
        text.push_str(&format!(" WHERE {}", pred_sql(p)));
    }
    if g.shape == Shape::GroupByPk {
        text.push_str(" GROUP BY c.pk");
    }
    if let Some(descending) = g.order {
        text.push_str(if descending {
            " ORDER BY c.id DESC"
        } else {
            " ORDER BY c.id"
        });
    }
    if let Some((offset, limit)) = g.window {
        text.push_str(&format!(" OFFSET {offset} LIMIT {limit}"));
    }
    text
}

// ---- The reference evaluator: plain, no sharing with the engine. ----

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 1,
        Value::Bool(_) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

/// Same-type primitive comparison; `None` across types.
fn cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// `%` and `_` (and `!` escaping), by plain recursion.
fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('!') if pattern.len() > 1 => {
            text.first() == Some(&pattern[1]) && like(&text[1..], &pattern[2..])
        }
        Some('%') => (0..=text.len()).any(|i| like(&text[i..], &pattern[1..])),
        Some('_') => !text.is_empty() && like(&text[1..], &pattern[1..]),
        Some(c) => text.first() == Some(c) && like(&text[1..], &pattern[1..]),
    }
}

fn truth(p: &Pred, c: &Value, t: Option<&Value>) -> Option<bool> {
    let field = |f: &str| c.get(f);
    match p {
        Pred::Cmp(f, op, lit) => {
            let o = cmp(field(f)?, lit)?;
            Some(match *op {
                "=" => o == Ordering::Equal,
                "!=" => o != Ordering::Equal,
                "<" => o == Ordering::Less,
                ">" => o == Ordering::Greater,
                "<=" => o != Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        Pred::Defined(f) => Some(field(f).is_some()),
        Pred::StartsWith(f, prefix) => Some(field(f)?.as_str()?.starts_with(prefix)),
        Pred::Like(f, pattern) => {
            let text: Vec<char> = field(f)?.as_str()?.chars().collect();
            let pattern: Vec<char> = pattern.chars().collect();
            Some(like(&text, &pattern))
        }
        Pred::In(f, items) => {
            let v = field(f)?;
            Some(items.iter().any(|i| cmp(v, i) == Some(Ordering::Equal)))
        }
        Pred::TagsContain(tag) => Some(field("tags")?.as_array()?.contains(&json!(tag))),
        Pred::ExistsTag(tag) => Some(
            field("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.contains(&json!(tag))),
        ),
        Pred::JoinedIs(tag) => Some(cmp(t?, &json!(tag))? == Ordering::Equal),
        Pred::Not(p) => truth(p, c, t).map(|b| !b),
        Pred::And(a, b) => match (truth(a, c, t), truth(b, c, t)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Pred::Or(a, b) => match (truth(a, c, t), truth(b, c, t)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn extreme(values: Vec<&Value>, max: bool) -> Option<Value> {
    let mut best: Option<&Value> = None;
    for v in values {
        let better = match best {
            None => true,
            Some(b) => {
                let o = rank(v)
                    .cmp(&rank(b))
                    .then(cmp(v, b).unwrap_or(Ordering::Equal));
                if max {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            }
        };
        if better {
            best = Some(v);
        }
    }
    best.cloned()
}

fn sum(values: &[&Value]) -> Option<Value> {
    let mut total = 0_i64;
    for v in values {
        total += v.as_i64()?;
    }
    Some(json!(total))
}

fn reference(g: &Gen, docs: &[Value]) -> Vec<Value> {
    // Rows: (document, joined tag).
    let mut rows: Vec<(&Value, Option<&Value>)> = Vec::new();
    for c in docs {
        if g.join {
            for t in c
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                rows.push((c, Some(t)));
            }
        } else {
            rows.push((c, None));
        }
    }
    rows.retain(|(c, t)| {
        g.filter
            .as_ref()
            .is_none_or(|p| truth(p, c, *t) == Some(true))
    });
    if let Some(descending) = g.order {
        rows.sort_by(|(a, _), (b, _)| {
            let o = a["id"].as_str().cmp(&b["id"].as_str());
            if descending { o.reverse() } else { o }
        });
    }
    let defined = |f: &str| -> Vec<&Value> { rows.iter().filter_map(|(c, _)| c.get(f)).collect() };
    let mut out: Vec<Value> = match g.shape {
        Shape::Count => return vec![json!(rows.len())],
        Shape::Sum => return sum(&defined("n")).into_iter().collect(),
        Shape::Min => return extreme(defined("s"), false).into_iter().collect(),
        Shape::Max => return extreme(defined("n"), true).into_iter().collect(),
        Shape::GroupByPk => {
            let mut keys: Vec<&Value> = Vec::new();
            for (c, _) in &rows {
                if !keys.contains(&&c["pk"]) {
                    keys.push(&c["pk"]);
                }
            }
            return keys
                .into_iter()
                .map(|pk| {
                    let group: Vec<&Value> = rows
                        .iter()
                        .filter(|(c, _)| &c["pk"] == pk)
                        .map(|(c, _)| *c)
                        .collect();
                    let mut row = json!({"pk": pk, "k": group.len()});
                    let ns: Vec<&Value> = group.iter().filter_map(|c| c.get("n")).collect();
                    if let Some(hi) = extreme(ns, true) {
                        row["hi"] = hi;
                    }
                    row
                })
                .collect();
        }
        _ => rows
            .iter()
            .filter_map(|(c, t)| match g.shape {
                Shape::Star => Some((*c).clone()),
                Shape::ValueId => Some(c["id"].clone()),
                Shape::IdAndN => {
                    let mut row = json!({"id": c["id"]});
                    if let Some(n) = c.get("n") {
                        row["n"] = n.clone();
                    }
                    Some(row)
                }
                Shape::ValueTag | Shape::DistinctTag => t.cloned(),
                Shape::IdAndTag => Some(json!({"id": c["id"], "tag": t})),
                _ => c.get("s").cloned(),
            })
            .collect(),
    };
    if matches!(g.shape, Shape::DistinctS | Shape::DistinctTag) {
        let mut unique: Vec<Value> = Vec::new();
        for v in out {
            if !unique.contains(&v) {
                unique.push(v);
            }
        }
        out = unique;
    }
    if let Some((offset, limit)) = g.window {
        out = out
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
    }
    out
}

fn documents(rng: &mut fastrand::Rng) -> Vec<Value> {
    (0..rng.usize(6..14))
        .map(|i| {
            let mut doc = json!({"id": format!("d{:02}", rng.u32(0..100) * 100 + i as u32), "pk": format!("p{}", rng.u8(0..3))});
            match rng.u8(0..6) {
                0 => {}
                1 => doc["n"] = json!("3"),
                2 => doc["n"] = Value::Null,
                _ => doc["n"] = json!(rng.i64(0..6)),
            }
            match rng.u8(0..7) {
                0 => {}
                1 => doc["s"] = json!(7),
                _ => doc["s"] = json!(WORDS[rng.usize(0..WORDS.len())]),
            }
            if rng.u8(0..5) != 0 {
                let tags: Vec<&str> = (0..rng.usize(0..4)).map(|_| TAGS[rng.usize(0..3)]).collect();
                doc["tags"] = json!(tags);
            }
            doc
        })
        .collect()
}

fn canonical(mut rows: Vec<Value>) -> Vec<String> {
    let mut rows: Vec<String> = rows.drain(..).map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

#[test]
fn generated_queries_agree_with_the_reference_evaluator() {
    let mut checked = 0;
    for seed in 0..30_u64 {
        let mut rng = fastrand::Rng::with_seed(0x5eed_0027 + seed);
        let docs = documents(&mut rng);
        for _ in 0..12 {
            let g = generate(&mut rng);
            let text = sql(&g);
            let engine = run_query(&json!({"query": text}), &docs)
                .unwrap_or_else(|e| panic!("{text}: refused: {e}"));
            let expected = reference(&g, &docs);
            let (engine_rows, expected_rows) = if g.order.is_some() {
                (
                    engine.iter().map(Value::to_string).collect(),
                    expected.iter().map(Value::to_string).collect(),
                )
            } else {
                (canonical(engine.clone()), canonical(expected.clone()))
            };
            assert_eq!(
                engine_rows,
                expected_rows,
                "seed {seed}: {text}\ndocuments: {}",
                Value::Array(docs.clone())
            );
            checked += 1;
        }
    }
    assert!(checked >= 300, "{checked}");
}
