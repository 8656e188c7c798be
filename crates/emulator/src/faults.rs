//! Fault injection: rules that match requests and replace or disturb their answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest oversized body a rule may ask for.
pub const MAX_OVERSIZED_BYTES: usize = 256 * 1024 * 1024;
/// The longest delay a rule may ask for, in milliseconds.
pub const MAX_DELAY_MS: u64 = 3_600_000;

/// Which requests a rule applies to; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultMatch {
    /// `"global"` or a region name.
    #[serde(default)]
    pub listener: Option<String>,
    /// A path class: `account`, `databases`, `containers`, `items`.
    #[serde(default)]
    pub class: Option<String>,
    /// A path prefix, e.g. `/dbs/orders`.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// An HTTP method, e.g. `GET`.
    #[serde(default)]
    pub method: Option<String>,
}

/// What a matching request gets instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum FaultAction {
    /// An error status with an optional sub-status, body and `x-ms-retry-after-ms`.
    Status {
        /// HTTP status.
        status: u16,
        /// `x-ms-substatus`.
        #[serde(default)]
        sub_status: Option<u32>,
        /// JSON body (default: a service-style `{"code","message"}`).
        #[serde(default)]
        body: Option<Value>,
        /// `x-ms-retry-after-ms`.
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
    /// Wait, then answer normally.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Never answer (until the client gives up or the emulator stops).
    Hang,
    /// Send the headers and part of the body, then reset the connection.
    Reset,
    /// Answer 200 with the first half of the normal JSON body.
    TruncatedJson,
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Answer 200 with a JSON body of about `bytes` bytes.
    Oversized {
        /// Body size.
        bytes: usize,
    },
    /// Answer `status` (default 200) with this exact JSON body.
    Body {
        /// HTTP status.
        #[serde(default = "ok")]
        status: u16,
        /// The body.
        body: Value,
    },
}

fn ok() -> u16 {
    200
}

/// How often a rule fires.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultLimit {
    /// Fire at most this many times (default: unlimited).
    #[serde(default)]
    pub hits: Option<u64>,
    /// Fire with this probability, `0.0..=1.0` (default 1).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Seed of the rule's random generator, for reproducible runs (default 0).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FaultRule {
    /// Which requests.
    #[serde(rename = "match", default)]
    pub when: FaultMatch,
    /// What they get.
    pub action: FaultAction,
    /// How often.
    #[serde(default)]
    pub limit: FaultLimit,
}

impl FaultAction {
    /// Answer `status` with a service-style body, no sub-status and no retry-after.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            sub_status: None,
            body: None,
            retry_after_ms: None,
        }
    }
}

impl FaultRule {
    /// A rule applying `action` to every request of `class` (e.g. `"account"`).
    pub fn on_class(class: &str, action: FaultAction) -> Self {
        Self {
            when: FaultMatch {
                class: Some(class.to_string()),
                ..FaultMatch::default()
            },
            action,
            limit: FaultLimit::default(),
        }
    }

    /// Restricts the rule to one listener (`"global"` or a region name).
    pub fn on_listener(mut self, listener: &str) -> Self {
        self.when.listener = Some(listener.to_string());
        self
    }

    /// Limits the rule to `hits` firings.
    pub fn times(mut self, hits: u64) -> Self {
        self.limit.hits = Some(hits);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(p) = self.limit.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err("limit.probability must be within 0.0..=1.0".into());
        }
        match &self.action {
            FaultAction::Status { status, .. } | FaultAction::Body { status, .. }
                if !(100..=599).contains(status) =>
            {
                Err("status must be within 100..=599".into())
            }
            FaultAction::Oversized { bytes } if *bytes > MAX_OVERSIZED_BYTES => Err(format!(
                "oversized bodies are capped at {MAX_OVERSIZED_BYTES} bytes"
            )),
            FaultAction::Delay { ms } if *ms > MAX_DELAY_MS => {
                Err(format!("delays are capped at {MAX_DELAY_MS} ms"))
            }
            _ => Ok(()),
        }
    }
}

/// A rule as listed by the admin API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FaultStatus {
    /// The rule's id.
    pub id: u64,
    /// The rule.
    pub rule: FaultRule,
    /// How many times it fired.
    pub hits: u64,
}

#[derive(Debug)]
struct ActiveRule {
    id: u64,
    rule: FaultRule,
    hits: u64,
    rng: fastrand::Rng,
}

/// The installed rules, in installation order.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    rules: Vec<ActiveRule>,
    next_id: u64,
}

/// What a request looks like to the matcher.
pub(crate) struct RequestFacts<'a> {
    pub(crate) listener: &'a str,
    pub(crate) class: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
}

impl FaultSet {
    pub(crate) fn add(&mut self, rule: FaultRule) -> Result<u64, String> {
        rule.validate()?;
        self.next_id += 1;
        let seed = rule.limit.seed.unwrap_or(0);
        self.rules.push(ActiveRule {
            id: self.next_id,
            rule,
            hits: 0,
            rng: fastrand::Rng::with_seed(seed),
        });
        Ok(self.next_id)
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn list(&self) -> Vec<FaultStatus> {
        self.rules
            .iter()
            .map(|r| FaultStatus {
                id: r.id,
                rule: r.rule.clone(),
                hits: r.hits,
            })
            .collect()
    }

    /// The first rule that matches and fires for `request`, counting the hit.
    pub(crate) fn pick(&mut self, request: &RequestFacts<'_>) -> Option<FaultAction> {
        for active in &mut self.rules {
            let when = &active.rule.when;
            let matches = when
                .listener
                .as_deref()
                .is_none_or(|l| crate::topology::same_region(l, request.listener))
                && when.class.as_deref().is_none_or(|c| c == request.class)
                && when
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(request.method))
                && when
                    .path_prefix
                    .as_deref()
                    .is_none_or(|p| request.path.starts_with(p));
            if !matches {
                continue;
            }
            if active.rule.limit.hits.is_some_and(|max| active.hits >= max) {
                continue;
            }
            if let Some(p) = active.rule.limit.probability
                && active.rng.f64() >= p
            {
                continue;
            }
            active.hits += 1;
            return Some(active.rule.action.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(listener: &'a str, class: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            listener,
            class,
            method: "GET",
            path: "/",
        }
    }

    #[test]
    fn rules_parse_from_the_documented_json() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"match":{"listener":"global","class":"account","method":"GET"},
                "action":{"kind":"status","status":503,"retry_after_ms":50},
                "limit":{"hits":2}}"#,
        )
        .unwrap();
        assert_eq!(rule.limit.hits, Some(2));
        assert!(matches!(
            rule.action,
            FaultAction::Status { status: 503, .. }
        ));
        assert!(serde_json::from_str::<FaultRule>(r#"{"action":{"kind":"explode"}}"#).is_err());
    }

    #[test]
    fn hit_limits_and_matching() {
        let mut set = FaultSet::default();
        set.add(
            FaultRule::on_class("account", FaultAction::Hang)
                .on_listener("West US")
                .times(2),
        )
        .unwrap();
        assert_eq!(set.pick(&facts("global", "account")), None);
        assert_eq!(set.pick(&facts("westus", "items")), None);
        assert_eq!(
            set.pick(&facts("westus", "account")),
            Some(FaultAction::Hang)
        );
        assert_eq!(
            set.pick(&facts("West US", "account")),
            Some(FaultAction::Hang)
        );
        assert_eq!(set.pick(&facts("West US", "account")), None, "hit limit");
        assert_eq!(set.list()[0].hits, 2);
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = || {
            let mut set = FaultSet::default();
            let mut rule = FaultRule::on_class("account", FaultAction::Reset);
            rule.limit.probability = Some(0.3);
            rule.limit.seed = Some(7);
            set.add(rule).unwrap();
            (0..1_000)
                .map(|_| set.pick(&facts("global", "account")).is_some())
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        let fired = a.iter().filter(|x| **x).count();
        assert!((200..400).contains(&fired), "{fired} of 1000 at p=0.3");
    }

    #[test]
    fn invalid_rules_are_refused() {
        let mut set = FaultSet::default();
        let mut rule = FaultRule::on_class("account", FaultAction::Oversized { bytes: usize::MAX });
        assert!(set.add(rule.clone()).is_err());
        rule.action = FaultAction::Status {
            status: 42,
            sub_status: None,
            body: None,
            retry_after_ms: None,
        };
        assert!(set.add(rule).is_err());
    }
}
