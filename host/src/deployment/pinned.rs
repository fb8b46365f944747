//! Mirrors pinned by the profile's `[[mm2.mirrors]]`: the flow, connector names and policy the
//! operator gives, checked against what Connect runs when the profile has `[connect]`.

use super::mirrors::{ConnectorRef, Deployed, Listed, Lookup, Mirror, Role};
use super::policy::{ReplicationPolicy, DEFAULT_POLICY_CLASS, IDENTITY_POLICY_CLASS};
use crate::config::profile::Mm2Mirror;

/// The pinned mirrors; `listed` is what Connect runs, `None` without `[connect]`.
pub fn pinned(pins: &[Mm2Mirror], listed: Option<&[Listed]>) -> Vec<Mirror> {
    pins.iter().map(|pin| mirror(pin, listed)).collect()
}

fn mirror(pin: &Mm2Mirror, listed: Option<&[Listed]>) -> Mirror {
    let mut mirror = Mirror::new(&pin.source_alias, &pin.target_alias, policy(pin));
    mirror.pinned = true;
    for (role, name) in [
        (Role::Source, &pin.source_connector),
        (Role::Checkpoint, &pin.checkpoint_connector),
        (Role::Heartbeat, &pin.heartbeat_connector),
    ] {
        let Some(name) = name else { continue };
        let lookup = match listed {
            None => Lookup::NotRead,
            Some(listed) => match listed.iter().find(|l| &l.name == name) {
                Some(found) => Lookup::Found(Box::new(Deployed::from_listed(found.clone()))),
                None => Lookup::Missing,
            },
        };
        mirror.put(
            role,
            ConnectorRef {
                name: name.clone(),
                lookup,
            },
        );
    }
    mirror
}

fn policy(pin: &Mm2Mirror) -> ReplicationPolicy {
    let class = match pin.replication_policy.as_deref() {
        None | Some("default") => DEFAULT_POLICY_CLASS,
        Some("identity") => IDENTITY_POLICY_CLASS,
        Some(class) => class,
    };
    ReplicationPolicy::from_config(Some(class), pin.separator.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fixtures;
    use crate::deployment::problems::{problems, Problem};

    fn pin(source: Option<&str>, policy: Option<&str>, separator: Option<&str>) -> Mm2Mirror {
        Mm2Mirror {
            source_alias: "source".into(),
            target_alias: "target".into(),
            source_connector: source.map(Into::into),
            checkpoint_connector: Some("mirror-checkpoint".into()),
            heartbeat_connector: Some("mirror-heartbeat".into()),
            replication_policy: policy.map(Into::into),
            separator: separator.map(Into::into),
        }
    }

    #[test]
    fn without_connect_the_pin_is_all_there_is() {
        let mirrors = pinned(&[pin(Some("mirror-source"), None, Some("_"))], None);
        let mirror = &mirrors[0];
        assert!(mirror.pinned);
        assert_eq!(mirror.remote_topic("orders").unwrap(), "source_orders");
        assert!(matches!(
            mirror.source.as_ref().unwrap().lookup,
            Lookup::NotRead
        ));
        assert!(mirror.topics.is_none(), "filters are not guessed");
        assert_eq!(problems(mirror, Some("orders")), []);
    }

    #[test]
    fn a_pin_is_checked_against_what_connect_runs() {
        let listing = fixtures::lab_listing();
        let good = pinned(
            &[pin(Some("mirror-source"), Some("default"), None)],
            Some(&listing),
        );
        assert_eq!(problems(&good[0], Some("kscen-lab-seed")), []);
        assert_eq!(
            good[0]
                .source
                .as_ref()
                .unwrap()
                .deployed()
                .unwrap()
                .tasks_max,
            4
        );

        let wrong = pinned(
            &[pin(Some("mirror-sourse"), Some("identity"), None)],
            Some(&listing),
        );
        let found = problems(&wrong[0], None);
        assert!(found.contains(&Problem::NotDeployed {
            connector: "mirror-sourse".into()
        }));
        assert!(found.contains(&Problem::OtherPolicy {
            connector: "mirror-checkpoint".into(),
            policy: ReplicationPolicy::from_config(None, None),
        }));

        let swapped = Mm2Mirror {
            heartbeat_connector: Some("mirror-source".into()),
            ..pin(None, None, None)
        };
        let found = problems(&pinned(&[swapped], Some(&listing))[0], None);
        assert!(found.contains(&Problem::NoConnector { role: Role::Source }));
        assert!(found.contains(&Problem::WrongClass {
            connector: "mirror-source".into(),
            role: Role::Heartbeat,
            class: "org.apache.kafka.connect.mirror.MirrorSourceConnector".into(),
        }));
    }
}
