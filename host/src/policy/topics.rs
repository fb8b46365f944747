//! Which topics of a granted cluster a plugin may touch: those matching both the patterns the
//! plugin declared for it in `describe` (if any) and the profile's `clusters.<name>.topics` (if
//! any); `*` matches any run of characters. Deleting is narrower still: only topics the run itself
//! created.
//!
//! Hand-rolled glob: one wildcard is all topic allow-lists need, and errors can quote the patterns.

use crate::error::{HostError, HostResult};

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct TopicPatterns(Vec<String>);

impl TopicPatterns {
    pub fn new(patterns: Vec<String>) -> TopicPatterns {
        TopicPatterns(patterns)
    }

    pub fn allows(&self, topic: &str) -> bool {
        self.0.iter().any(|pattern| glob_matches(pattern, topic))
    }

    /// Whether `pattern` is one of them, as written.
    pub fn contains(&self, pattern: &str) -> bool {
        self.0.iter().any(|own| own == pattern)
    }

    pub fn push(&mut self, pattern: String) {
        self.0.push(pattern);
    }

    /// `Denied` naming the topic, the cluster, the patterns and who set them, unless a pattern
    /// allows it.
    pub fn check(&self, cluster: &str, topic: &str, set_by: SetBy) -> HostResult<()> {
        if self.allows(topic) {
            return Ok(());
        }
        let patterns = self.0.join(", ");
        Err(HostError::Denied(match set_by {
            SetBy::Profile => format!(
                "topic {topic:?} on cluster {cluster:?} is outside the profile's clusters.{cluster}.topics \
                 ({patterns}); add a pattern there to allow it"
            ),
            SetBy::Plugin => format!(
                "topic {topic:?} on cluster {cluster:?} is outside the topics the plugin declared in \
                 describe() ({patterns}); a plugin may only touch the topics it declares"
            ),
        }))
    }
}

/// Who set a cluster's topic patterns: a denial names it, so the reader knows what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// the operator, in `clusters.<name>.topics`
    Profile,
    /// the plugin, with `topic` capabilities in `describe`
    Plugin,
}

/// Deleting a topic is allowed only for topics this run created: a scenario shared by another team
/// must not be able to drop a production topic it happens to be granted.
pub fn check_delete(cluster: &str, topic: &str, created_by_this_run: bool) -> HostResult<()> {
    if created_by_this_run {
        Ok(())
    } else {
        Err(HostError::Denied(format!(
            "topic {topic:?} on cluster {cluster:?} was not created by this run; a plugin may only \
             delete the topics it created"
        )))
    }
}

/// `*` matches any (possibly empty) run of characters; everything else matches itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: an exact match
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_prefixes_suffixes_and_exact_names() {
        assert!(glob_matches("test-mm2-*", "test-mm2-perf"));
        assert!(glob_matches("test-mm2-*", "test-mm2-"));
        assert!(!glob_matches("test-mm2-*", "payments"));
        assert!(glob_matches("*.test-mm2-perf", "source.test-mm2-perf"));
        assert!(glob_matches("kscen-*-load-*", "kscen-a-load-b"));
        assert!(!glob_matches("kscen-*-load-*", "kscen-a-lod-b"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a*a", "a"), "the two ends must not overlap");
    }

    #[test]
    fn a_topic_outside_the_patterns_is_denied_with_the_patterns_quoted() {
        let patterns = TopicPatterns::new(vec!["test-mm2-*".into(), "source.test-mm2-*".into()]);
        assert!(patterns
            .check("source", "test-mm2-perf", SetBy::Profile)
            .is_ok());
        let denied = patterns
            .check("source", "payments", SetBy::Profile)
            .unwrap_err();
        assert!(
            matches!(&denied, HostError::Denied(m) if m.contains("\"payments\"")
                && m.contains("clusters.source.topics (test-mm2-*, source.test-mm2-*)")),
            "{denied:?}"
        );
        let denied = patterns
            .check("source", "payments", SetBy::Plugin)
            .unwrap_err();
        assert!(
            matches!(&denied, HostError::Denied(m) if m.contains("the plugin declared in describe() (test-mm2-*, source.test-mm2-*)")),
            "{denied:?}"
        );
    }

    #[test]
    fn only_topics_the_run_created_may_be_deleted() {
        assert!(check_delete("source", "kscen-tmp", true).is_ok());
        assert!(matches!(
            check_delete("source", "payments", false),
            Err(HostError::Denied(m)) if m.contains("not created by this run")
        ));
    }
}
