//! Building the description a plugin returns from `describe`.

use crate::types::{Capability, ParamKind, ParamSpec, TopicRequest};

/// What a scenario's `describe` returns: the contract's description, whose capabilities the run
/// cannot start without, and the capabilities it uses only when the environment has them (it
/// asks [`crate::grants`] which it got).
pub struct ScenarioInfo {
    pub required: crate::types::ScenarioInfo,
    pub optional: Vec<Capability>,
}

pub struct Describe {
    info: crate::types::ScenarioInfo,
    optional: Vec<Capability>,
}

impl Describe {
    pub fn new(name: &str, summary: &str) -> Describe {
        Describe {
            info: crate::types::ScenarioInfo {
                name: name.into(),
                summary: summary.into(),
                description: String::new(),
                params: Vec::new(),
                capabilities: Vec::new(),
            },
            optional: Vec::new(),
        }
    }

    pub fn description(mut self, text: &str) -> Describe {
        self.info.description = text.into();
        self
    }

    pub fn param(mut self, spec: ParamSpec) -> Describe {
        self.info.params.push(spec);
        self
    }

    /// Asks for access to a cluster by its logical name in the operator's profile.
    pub fn cluster(mut self, name: &str) -> Describe {
        self.info
            .capabilities
            .push(Capability::Cluster(name.into()));
        self
    }

    /// Narrows the topics the plugin may touch on `cluster` (which it must also ask for with
    /// [`Describe::cluster`]) to those matching `pattern`, where `*` matches any run of characters
    /// (`"kscen-perf-*"`). Call again to add patterns. Without any, the plugin may touch every
    /// topic the profile allows there; with some, only topics both allow.
    pub fn topic(mut self, cluster: &str, pattern: &str) -> Describe {
        self.info.capabilities.push(Capability::Topic(TopicRequest {
            cluster: cluster.into(),
            pattern: pattern.into(),
        }));
        self
    }

    /// Asks for the Kafka Connect REST API of the profile.
    pub fn connect(mut self) -> Describe {
        self.info.capabilities.push(Capability::Connect);
        self
    }

    /// Asks for a fault target of the profile (`worker-1`, `workers-to-source`, ...). The
    /// operator must also grant it (`--grant-fault`), or every action on it is denied.
    pub fn fault(mut self, target: &str) -> Describe {
        self.info
            .capabilities
            .push(Capability::Fault(target.into()));
        self
    }

    /// Asks for a metrics endpoint of the profile, by name.
    pub fn probe(mut self, name: &str) -> Describe {
        self.info.capabilities.push(Capability::Probe(name.into()));
        self
    }

    /// Uses a cluster of the profile when it has one by this name: the run starts without it
    /// otherwise, and [`crate::grants::cluster`] says which.
    pub fn optional_cluster(mut self, name: &str) -> Describe {
        self.optional.push(Capability::Cluster(name.into()));
        self
    }

    /// Reads a metrics endpoint of the profile when it has one by this name;
    /// [`crate::grants::probe`] says which it got.
    pub fn optional_probe(mut self, name: &str) -> Describe {
        self.optional.push(Capability::Probe(name.into()));
        self
    }

    /// Uses the Kafka Connect REST API when the profile has one; [`crate::grants::connect`]
    /// says whether it does.
    pub fn optional_connect(mut self) -> Describe {
        self.optional.push(Capability::Connect);
        self
    }

    /// Applies a group of declarations shared between scenarios (e.g.
    /// `kscen_sdk::mm2::tracked_load_params`).
    pub fn apply(self, declare: impl FnOnce(Describe) -> Describe) -> Describe {
        declare(self)
    }

    pub fn build(self) -> ScenarioInfo {
        ScenarioInfo {
            required: self.info,
            optional: self.optional,
        }
    }
}

/// Parameter declarations; defaults are written as they would be in a scenario file.
pub mod spec {
    use super::*;

    fn declare(name: &str, kind: ParamKind, default: Option<String>, help: &str) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind,
            default,
            help: help.into(),
        }
    }

    fn quoted(text: &str) -> String {
        format!("{text:?}")
    }

    pub fn int(name: &str, default: i64, help: &str) -> ParamSpec {
        declare(name, ParamKind::Int, Some(default.to_string()), help)
    }

    pub fn float(name: &str, default: f64, help: &str) -> ParamSpec {
        declare(name, ParamKind::Float, Some(format!("{default:?}")), help)
    }

    pub fn text(name: &str, default: &str, help: &str) -> ParamSpec {
        declare(name, ParamKind::Text, Some(quoted(default)), help)
    }

    pub fn flag(name: &str, default: bool, help: &str) -> ParamSpec {
        declare(name, ParamKind::Flag, Some(default.to_string()), help)
    }

    /// A duration such as `"10m"`; the host applies `time_scale` to it.
    pub fn duration(name: &str, default: &str, help: &str) -> ParamSpec {
        declare(name, ParamKind::Duration, Some(quoted(default)), help)
    }

    /// A byte size such as `"1KiB"` or `"1024"`.
    pub fn size(name: &str, default: &str, help: &str) -> ParamSpec {
        declare(name, ParamKind::Size, Some(quoted(default)), help)
    }

    pub fn float_list(name: &str, default: &[f64], help: &str) -> ParamSpec {
        let items: Vec<String> = default.iter().map(|v| format!("{v:?}")).collect();
        declare(
            name,
            ParamKind::FloatList,
            Some(format!("[{}]", items.join(", "))),
            help,
        )
    }

    pub fn size_list(name: &str, default: &[u64], help: &str) -> ParamSpec {
        let items: Vec<String> = default.iter().map(u64::to_string).collect();
        declare(
            name,
            ParamKind::SizeList,
            Some(format!("[{}]", items.join(", "))),
            help,
        )
    }

    /// A parameter the scenario file must set.
    pub fn required(name: &str, kind: ParamKind, help: &str) -> ParamSpec {
        declare(name, kind, None, help)
    }
}
