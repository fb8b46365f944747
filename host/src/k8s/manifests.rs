//! What `kscen k8s run` creates: the ConfigMap holding the scenario (or, for a pack pinned in a
//! registry, the public keys its signature is checked with) and profile, the Secret holding what
//! the profile references from the environment and the registry's credentials, and the Indexed
//! Job whose pod `I` runs `kscen run --shard I/N`. Pure functions of the request, tested without a
//! cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvFromSource, EnvVar, PodSpec, PodTemplateSpec,
    ResourceRequirements, Secret, SecretEnvSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Where the pods find the ConfigMap's files.
pub const INPUT_DIR: &str = "/kscen/input";
/// The ConfigMap's keys.
pub const SCENARIO_KEY: &str = "scenario.toml";
pub const PROFILE_KEY: &str = "profile.toml";
/// The label every object of one run carries, to find and delete them together.
pub const RUN_LABEL: &str = "kscen.dev/run";

/// What the shards run.
#[derive(Debug, Clone)]
pub enum ShardScenario {
    /// a scenario file's text, given to the pods in the ConfigMap
    File(String),
    /// a signed pack's scenario pinned by digest in a registry
    /// (`REGISTRY/REPOSITORY@sha256:DIGEST/SCENARIO`): every pod pulls it and checks its signature
    /// itself, against the public keys (file name -> text) the ConfigMap gives it as its trust
    /// store
    Pinned {
        reference: String,
        trusted_keys: BTreeMap<String, String>,
        plain_http: bool,
    },
}

/// One sharded run on Kubernetes, as the manifests need it.
#[derive(Debug, Clone)]
pub struct ShardedJob {
    /// the run's name: the Job's, and the prefix of its ConfigMap and Secret
    pub name: String,
    pub namespace: String,
    pub shards: u32,
    pub image: String,
    pub pull_policy: String,
    pub scenario: ShardScenario,
    pub profile_text: Option<String>,
    /// variables the profile references (`${env:NAME}`) and the registry's credentials, with their
    /// values: the Secret's
    pub secrets: BTreeMap<String, String>,
    /// `kscen run` arguments after the scenario, profile and shard ones (`--set`, `--threshold`)
    pub run_args: Vec<String>,
    /// the instant every shard starts at, RFC 3339
    pub start_at: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    /// spread the shards over the nodes of this topology key (a zone label), one per domain
    pub spread_over: Option<String>,
    /// the pods use the node's network: loopback-only labs are reached as on the node
    pub host_network: bool,
}

/// The prefix of the one line of a shard's log that holds its result (`kscen run --print-result`).
pub const RESULT_LINE_PREFIX: &str = "kscen-result: ";

impl ShardedJob {
    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(BTreeMap::from([(RUN_LABEL.into(), self.name.clone())])),
            ..Default::default()
        }
    }

    pub fn config_map_name(&self) -> String {
        format!("{}-input", self.name)
    }

    pub fn secret_name(&self) -> String {
        format!("{}-secrets", self.name)
    }

    /// The scenario (or the public keys a pinned pack is checked with) and profile files, nothing
    /// secret: the profile only references secrets.
    pub fn config_map(&self) -> ConfigMap {
        let mut data = match &self.scenario {
            ShardScenario::File(text) => BTreeMap::from([(SCENARIO_KEY.into(), text.clone())]),
            ShardScenario::Pinned { trusted_keys, .. } => trusted_keys.clone(),
        };
        if let Some(profile) = &self.profile_text {
            data.insert(PROFILE_KEY.into(), profile.clone());
        }
        ConfigMap {
            metadata: self.meta(self.config_map_name()),
            data: Some(data),
            ..Default::default()
        }
    }

    /// The values the profile references, as the pods' environment; none without references.
    pub fn secret(&self) -> Option<Secret> {
        (!self.secrets.is_empty()).then(|| Secret {
            metadata: self.meta(self.secret_name()),
            string_data: Some(self.secrets.clone()),
            ..Default::default()
        })
    }

    /// `kscen run` of shard `$(JOB_COMPLETION_INDEX)` (the Job sets it in every pod of an
    /// Indexed Job), printing its result as one log line.
    fn shard_args(&self) -> Vec<String> {
        let mut args = match &self.scenario {
            ShardScenario::File(_) => vec!["run".into(), format!("{INPUT_DIR}/{SCENARIO_KEY}")],
            ShardScenario::Pinned {
                reference,
                plain_http,
                ..
            } => {
                let mut args = vec!["run".into(), reference.clone()];
                if *plain_http {
                    args.push("--plain-http".into());
                }
                args
            }
        };
        if self.profile_text.is_some() {
            args.extend(["--profile".into(), format!("{INPUT_DIR}/{PROFILE_KEY}")]);
        }
        args.extend([
            "--shard".into(),
            format!("$(JOB_COMPLETION_INDEX)/{}", self.shards),
            "--start-at".into(),
            self.start_at.clone(),
            "--print-result".into(),
        ]);
        args.extend(self.run_args.iter().cloned());
        args
    }

    /// N pods at once, one per index; a failed index is not retried (a shard run again would
    /// send its stripe twice), and fails the Job.
    pub fn job(&self) -> Job {
        let resources = (self.cpu.is_some() || self.memory.is_some()).then(|| {
            let quantities: BTreeMap<String, Quantity> =
                [("cpu", &self.cpu), ("memory", &self.memory)]
                    .into_iter()
                    .filter_map(|(name, value)| Some((name.to_string(), Quantity(value.clone()?))))
                    .collect();
            ResourceRequirements {
                requests: Some(quantities.clone()),
                limits: Some(quantities),
                ..Default::default()
            }
        });
        let container = Container {
            name: "shard".into(),
            image: Some(self.image.clone()),
            image_pull_policy: Some(self.pull_policy.clone()),
            // The image's entrypoint is kscen: the arguments are kscen's.
            args: Some(self.shard_args()),
            // The ConfigMap's keys are the trust store of a pinned pack's pulls.
            env: matches!(self.scenario, ShardScenario::Pinned { .. }).then(|| {
                vec![EnvVar {
                    name: "KSCEN_TRUST_DIR".into(),
                    value: Some(INPUT_DIR.into()),
                    ..Default::default()
                }]
            }),
            env_from: self.secret().map(|_| {
                vec![EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: self.secret_name(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }]
            }),
            volume_mounts: Some(vec![VolumeMount {
                name: "input".into(),
                mount_path: INPUT_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            }]),
            resources,
            ..Default::default()
        };
        let pod = PodSpec {
            containers: vec![container],
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            host_network: Some(self.host_network),
            node_selector: (!self.node_selector.is_empty()).then(|| self.node_selector.clone()),
            topology_spread_constraints: self.spread_over.as_ref().map(|key| {
                vec![k8s_openapi::api::core::v1::TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: key.clone(),
                    when_unsatisfiable: "DoNotSchedule".into(),
                    label_selector: Some(
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                            match_labels: Some(BTreeMap::from([(
                                RUN_LABEL.into(),
                                self.name.clone(),
                            )])),
                            ..Default::default()
                        },
                    ),
                    ..Default::default()
                }]
            }),
            volumes: Some(vec![Volume {
                name: "input".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: self.config_map_name(),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        Job {
            metadata: self.meta(self.name.clone()),
            spec: Some(JobSpec {
                completion_mode: Some("Indexed".into()),
                completions: Some(self.shards as i32),
                parallelism: Some(self.shards as i32),
                backoff_limit_per_index: Some(0),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(BTreeMap::from([(RUN_LABEL.into(), self.name.clone())])),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// The variables a profile references as `${env:NAME}`; an error for a `${file:…}` reference,
/// which a pod could not read.
pub fn referenced_variables(profile: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = profile;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed ${ in the profile")?;
        let reference = &after[..end];
        match reference.split_once(':') {
            Some(("env", name)) if !names.iter().any(|n| n == name) => names.push(name.into()),
            Some(("env", _)) => {}
            Some(("file", path)) => {
                return Err(format!(
                    "the profile reads a secret from the file {path}, which the pods do not have: \
                     reference it as ${{env:NAME}} and set NAME here, it goes into a Secret"
                ))
            }
            _ => {}
        }
        rest = &after[end..];
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sharded() -> ShardedJob {
        ShardedJob {
            name: "kscen-steady-1".into(),
            namespace: "loadtest".into(),
            shards: 4,
            image: "kscen:0.9.0".into(),
            pull_policy: "Never".into(),
            scenario: ShardScenario::File("plugin = \"steady\"\n".into()),
            profile_text: Some(
                "[clusters.source]\nbootstrap = \"b:9092\"\n[clusters.source.properties]\n\"sasl.password\" = \"${env:SOURCE_PASSWORD}\"\n".into(),
            ),
            secrets: BTreeMap::from([("SOURCE_PASSWORD".into(), "p4ss".into())]),
            run_args: vec!["--set".into(), "count=1000".into()],
            start_at: "2026-12-05T10:00:00+00:00".into(),
            cpu: Some("500m".into()),
            memory: None,
            node_selector: BTreeMap::from([("pool".into(), "load".into())]),
            spread_over: Some("topology.kubernetes.io/zone".into()),
            host_network: false,
        }
    }

    #[test]
    fn the_job_runs_every_shard_at_once_and_retries_none() {
        let job = sharded().job();
        let spec = job.spec.unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!((spec.completions, spec.parallelism), (Some(4), Some(4)));
        assert_eq!(spec.backoff_limit_per_index, Some(0));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.node_selector.unwrap()["pool"], "load");
        let spread = &pod.topology_spread_constraints.unwrap()[0];
        assert_eq!(spread.topology_key, "topology.kubernetes.io/zone");
        let container = &pod.containers[0];
        let args = container.args.clone().unwrap().join(" ");
        assert_eq!(
            args,
            "run /kscen/input/scenario.toml --profile /kscen/input/profile.toml \
             --shard $(JOB_COMPLETION_INDEX)/4 --start-at 2026-12-05T10:00:00+00:00 \
             --print-result --set count=1000"
        );
        let resources = container.resources.clone().unwrap();
        assert_eq!(resources.limits.unwrap()["cpu"], Quantity("500m".into()));
        assert_eq!(container.image_pull_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn secrets_go_into_the_secret_and_never_into_the_config_map() {
        let sharded = sharded();
        let config_map = serde_json::to_string(&sharded.config_map()).unwrap();
        assert!(!config_map.contains("p4ss"), "{config_map}");
        assert!(config_map.contains("${env:SOURCE_PASSWORD}"));
        let secret = sharded.secret().unwrap();
        assert_eq!(secret.string_data.unwrap()["SOURCE_PASSWORD"], "p4ss");
        let job = sharded.job();
        let container = &job.spec.unwrap().template.spec.unwrap().containers[0];
        let from = container.env_from.clone().unwrap();
        assert_eq!(
            from[0].secret_ref.as_ref().unwrap().name,
            "kscen-steady-1-secrets"
        );
    }

    #[test]
    fn a_pinned_pack_is_pulled_by_every_pod_checked_with_the_keys_of_the_config_map() {
        let digest = "a".repeat(64);
        let sharded = ShardedJob {
            scenario: ShardScenario::Pinned {
                reference: format!("127.0.0.1:5000/acme/perf@sha256:{digest}/ramp"),
                trusted_keys: BTreeMap::from([(
                    "acme.pub".into(),
                    "untrusted comment: acme\nRWQ...\n".into(),
                )]),
                plain_http: true,
            },
            ..sharded()
        };
        let data = sharded.config_map().data.unwrap();
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            ["acme.pub", "profile.toml"]
        );
        let job = sharded.job();
        let container = &job.spec.unwrap().template.spec.unwrap().containers[0];
        let args = container.args.clone().unwrap().join(" ");
        assert!(
            args.starts_with(&format!(
                "run 127.0.0.1:5000/acme/perf@sha256:{digest}/ramp --plain-http --profile /kscen/input/profile.toml --shard"
            )),
            "{args}"
        );
        let env = container.env.clone().unwrap();
        assert_eq!(
            (env[0].name.as_str(), env[0].value.as_deref()),
            ("KSCEN_TRUST_DIR", Some(INPUT_DIR))
        );
    }

    #[test]
    fn the_profiles_environment_references_are_found_and_file_ones_refused() {
        let profile = "a = \"${env:ONE}\"\nb = \"${env:TWO}\"\nc = \"${env:ONE}\"\n";
        assert_eq!(referenced_variables(profile).unwrap(), ["ONE", "TWO"]);
        let error = referenced_variables("p = \"${file:/etc/kafka/pw}\"").unwrap_err();
        assert!(error.contains("/etc/kafka/pw"), "{error}");
        assert!(referenced_variables("no references").unwrap().is_empty());
    }
}
