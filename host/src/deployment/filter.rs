//! MirrorMaker 2's topic and group filters (`DefaultTopicFilter`, `DefaultGroupFilter`): comma
//! separated regexes that must match the whole name; a name is replicated when an include pattern
//! matches it and no exclude pattern does. An empty list matches nothing. A custom filter class
//! cannot be followed: its verdicts are unknown.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

/// Which names a filter selects, and the configuration keys MM2 reads for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Topics,
    Groups,
}

struct Keys {
    include: &'static str,
    exclude: &'static str,
    /// The deprecated spelling of `exclude`, read only when `exclude` is absent.
    legacy_exclude: &'static str,
    class: &'static str,
    default_class: &'static str,
    default_include: &'static str,
    default_exclude: &'static str,
}

impl Names {
    fn keys(self) -> Keys {
        match self {
            Names::Topics => Keys {
                include: "topics",
                exclude: "topics.exclude",
                legacy_exclude: "topics.blacklist",
                class: "topic.filter.class",
                default_class: "org.apache.kafka.connect.mirror.DefaultTopicFilter",
                default_include: ".*",
                default_exclude: r".*[\-\.]internal, .*\.replica, __.*",
            },
            Names::Groups => Keys {
                include: "groups",
                exclude: "groups.exclude",
                legacy_exclude: "groups.blacklist",
                class: "group.filter.class",
                default_class: "org.apache.kafka.connect.mirror.DefaultGroupFilter",
                default_include: ".*",
                default_exclude: "console-consumer-.*, connect-.*, __.*",
            },
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NameFilter {
    Patterns {
        include: Vec<Pattern>,
        exclude: Vec<Pattern>,
    },
    /// `topic.filter.class` / `group.filter.class` names a class of the deployment's own.
    Custom { class: String },
    /// A pattern kscen cannot compile (Java regex features the `regex` crate lacks).
    Invalid {
        key: String,
        pattern: String,
        error: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Pattern {
    pub text: String,
    #[serde(skip)]
    regex: Regex,
}

/// Whether a filter lets a name through, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Replicated,
    NotIncluded,
    Excluded { pattern: String },
    Unknown { why: String },
}

impl NameFilter {
    /// The filter a connector configured with `config` applies to `names`.
    pub fn from_config(names: Names, config: &BTreeMap<String, String>) -> NameFilter {
        let keys = names.keys();
        if let Some(class) = config.get(keys.class) {
            if class.trim() != keys.default_class {
                return NameFilter::Custom {
                    class: class.trim().to_string(),
                };
            }
        }
        let include_key = keys.include;
        let include = config
            .get(include_key)
            .map_or(keys.default_include, String::as_str);
        let (exclude_key, exclude) =
            match (config.get(keys.exclude), config.get(keys.legacy_exclude)) {
                (Some(exclude), _) => (keys.exclude, exclude.as_str()),
                (None, Some(legacy)) => (keys.legacy_exclude, legacy.as_str()),
                (None, None) => (keys.exclude, keys.default_exclude),
            };
        match (compile(include_key, include), compile(exclude_key, exclude)) {
            (Ok(include), Ok(exclude)) => NameFilter::Patterns { include, exclude },
            (Err(invalid), _) | (_, Err(invalid)) => invalid,
        }
    }

    pub fn verdict(&self, name: &str) -> Verdict {
        match self {
            NameFilter::Patterns { include, exclude } => {
                if !include.iter().any(|p| p.regex.is_match(name)) {
                    Verdict::NotIncluded
                } else if let Some(pattern) = exclude.iter().find(|p| p.regex.is_match(name)) {
                    Verdict::Excluded {
                        pattern: pattern.text.clone(),
                    }
                } else {
                    Verdict::Replicated
                }
            }
            NameFilter::Custom { class } => Verdict::Unknown {
                why: format!("the custom filter {class} decides"),
            },
            NameFilter::Invalid { key, pattern, .. } => Verdict::Unknown {
                why: format!("{key} pattern {pattern:?} cannot be read"),
            },
        }
    }

    /// Whether `name` is replicated; `None` when kscen cannot tell (custom or unreadable filter).
    pub fn replicates(&self, name: &str) -> Option<bool> {
        match self.verdict(name) {
            Verdict::Replicated => Some(true),
            Verdict::NotIncluded | Verdict::Excluded { .. } => Some(false),
            Verdict::Unknown { .. } => None,
        }
    }
}

impl fmt::Display for NameFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |patterns: &[Pattern]| {
            let texts: Vec<&str> = patterns.iter().map(|p| p.text.as_str()).collect();
            if texts.is_empty() {
                "(none)".to_string()
            } else {
                texts.join(", ")
            }
        };
        match self {
            NameFilter::Patterns { include, exclude } => {
                write!(f, "include {}; exclude {}", list(include), list(exclude))
            }
            NameFilter::Custom { class } => write!(f, "custom filter {class}"),
            NameFilter::Invalid {
                key,
                pattern,
                error,
            } => write!(f, "{key}: pattern {pattern:?} cannot be read: {error}"),
        }
    }
}

/// MM2's list syntax: split on commas with the whitespace around them; blank means no pattern.
/// Each pattern must match the whole name.
fn compile(key: &str, list: &str) -> Result<Vec<Pattern>, NameFilter> {
    let list = list.trim();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(str::trim)
        .map(|text| match Regex::new(&format!("^(?:{text})$")) {
            Ok(regex) => Ok(Pattern {
                text: text.to_string(),
                regex,
            }),
            Err(error) => Err(NameFilter::Invalid {
                key: key.to_string(),
                pattern: text.to_string(),
                error: error.to_string(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_replicate_all_but_internal_replica_and_double_underscore_topics() {
        let filter = NameFilter::from_config(Names::Topics, &config(&[]));
        assert_eq!(filter.replicates("orders"), Some(true));
        assert_eq!(
            filter.verdict("mm2-offset-syncs.target.internal"),
            Verdict::Excluded {
                pattern: r".*[\-\.]internal".into()
            }
        );
        assert_eq!(filter.replicates("orders.replica"), Some(false));
        assert_eq!(filter.replicates("__consumer_offsets"), Some(false));
    }

    #[test]
    fn patterns_match_whole_names_and_exclude_wins() {
        // The seeds' production source connector (seed 003, section 4.1).
        let filter = NameFilter::from_config(
            Names::Topics,
            &config(&[
                ("topics", "orders.*, payments"),
                (
                    "topics.exclude",
                    r".*[\.\-]internal,.*\.replica,__.*,connect-.*,mm2-.*",
                ),
            ]),
        );
        assert_eq!(filter.replicates("orders-eu"), Some(true));
        assert_eq!(filter.replicates("payments"), Some(true));
        assert_eq!(
            filter.verdict("payments-v2"),
            Verdict::NotIncluded,
            "full match"
        );
        assert_eq!(filter.verdict("xpayments"), Verdict::NotIncluded);
        assert_eq!(
            filter.verdict("orders.internal"),
            Verdict::Excluded {
                pattern: r".*[\.\-]internal".into()
            }
        );
        assert_eq!(
            filter.to_string(),
            r"include orders.*, payments; exclude .*[\.\-]internal, .*\.replica, __.*, connect-.*, mm2-.*"
        );
    }

    #[test]
    fn legacy_blacklist_counts_only_without_exclude_and_blank_matches_nothing() {
        let legacy =
            NameFilter::from_config(Names::Topics, &config(&[("topics.blacklist", "tmp-.*")]));
        assert_eq!(legacy.replicates("tmp-1"), Some(false));
        assert_eq!(
            legacy.replicates("a.internal"),
            Some(true),
            "the legacy list replaces the default"
        );
        let both = NameFilter::from_config(
            Names::Topics,
            &config(&[("topics.blacklist", "tmp-.*"), ("topics.exclude", "old-.*")]),
        );
        assert_eq!(both.replicates("tmp-1"), Some(true));
        assert_eq!(both.replicates("old-1"), Some(false));
        let blank = NameFilter::from_config(Names::Topics, &config(&[("topics", " ")]));
        assert_eq!(blank.verdict("orders"), Verdict::NotIncluded);
    }

    #[test]
    fn group_defaults_and_filters_kscen_cannot_follow() {
        let groups = NameFilter::from_config(Names::Groups, &config(&[]));
        assert_eq!(groups.replicates("billing"), Some(true));
        assert_eq!(groups.replicates("console-consumer-42"), Some(false));
        assert_eq!(groups.replicates("connect-mm2"), Some(false));
        let custom = NameFilter::from_config(
            Names::Topics,
            &config(&[("topic.filter.class", "com.acme.TopicFilter")]),
        );
        assert_eq!(custom.replicates("orders"), None);
        let java_only = NameFilter::from_config(Names::Topics, &config(&[("topics", "(?<!x)y")]));
        assert_eq!(java_only.replicates("y"), None);
        assert!(
            java_only
                .to_string()
                .starts_with("topics: pattern \"(?<!x)y\""),
            "{java_only}"
        );
    }
}
