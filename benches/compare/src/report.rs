//! One measured value per row: the stdout table and `target/compare/summary.json`.

use serde_json::json;

/// One measured value.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What was measured (`fanout GET / per s`, `read p99`...).
    pub measurement: String,
    /// Which client (`sdk`, `sdk-shared-runtime`, `meridian`).
    pub client: String,
    /// Clients, or concurrent callers, or seconds after start: as the measurement says.
    pub n: u64,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
}

impl Row {
    /// A row.
    pub fn new(measurement: &str, client: &str, n: u64, value: f64, unit: &str) -> Self {
        Self {
            measurement: measurement.into(),
            client: client.into(),
            n,
            value,
            unit: unit.into(),
        }
    }
}

/// The rows as the JSON summary: an array of `{"measurement","client","n","value","unit"}`.
pub fn to_json(rows: &[Row]) -> String {
    let array: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({"measurement": r.measurement, "client": r.client, "n": r.n,
                   "value": r.value, "unit": r.unit})
        })
        .collect();
    serde_json::to_string_pretty(&array).unwrap_or_else(|_| "[]".into())
}

/// The rows as a markdown table, one line per row.
pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| measurement | client | n | value | unit |\n|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.measurement,
            r.client,
            r.n,
            format_value(r.value),
            r.unit
        ));
    }
    out
}

fn format_value(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The `q` quantile (0..=1) of `sorted` by nearest rank; 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_json_has_the_five_fields_per_row() {
        let rows = [Row::new("fanout GET / per s", "meridian", 50, 0.9, "GET/s")];
        let parsed: serde_json::Value = serde_json::from_str(&to_json(&rows)).expect("json");
        assert_eq!(
            parsed,
            json!([{"measurement": "fanout GET / per s", "client": "meridian", "n": 50,
                    "value": 0.9, "unit": "GET/s"}])
        );
    }

    #[test]
    fn quantile_is_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&sorted, 0.5), 50.0);
        assert_eq!(quantile(&sorted, 0.99), 99.0);
        assert_eq!(quantile(&sorted, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
