//! Resilience test 5.1 (and 5.2 with `victims = 2`): under steady, replication-tracked load, kill
//! Connect workers and measure to the ~100 ms how Connect reacts — detection, rebalance until
//! every task runs on a live worker, lag peak, FAILED tasks, lost and duplicated records — then
//! bring them back and measure the second rebalance.

use kscen_sdk::connect::{self, ConnectorStatus};
use kscen_sdk::faults::{self, Action};
use kscen_sdk::mm2;
use kscen_sdk::prelude::*;

struct WorkerKill;

const WORKERS: [&str; 3] = ["worker-1", "worker-2", "worker-3"];

/// Defaults of the tracked load every MM2 scenario shares.
const TRACKED: mm2::TrackedLoadDefaults = mm2::TrackedLoadDefaults {
    topic: "test-mm2-perf",
    rate: 1000.0,
    partitions: 8,
    grace: "60s",
};

impl Scenario for WorkerKill {
    fn describe() -> ScenarioInfo {
        let mut describe = Describe::new(
            "worker-kill",
            "Kill Connect workers under load; measure rebalance, lag, loss (tests 5.1, 5.2)",
        )
        .description(
            "Steady load on `topic`, every record followed to the target. After `warmup`, the \
             victim workers are stopped (`signal` = kill: SIGKILL, stop: SIGTERM). `victim` picks \
             the first: `follower` (the non-leader running most tasks), `leader`, or a worker name; \
             with `victims = 2` a second worker goes too (test 5.2: every task must land on the \
             survivor). Connect is polled every `poll` through surviving workers: detection (status \
             changes), rebalance (every task RUNNING on a live worker), lag peak, FAILED tasks. \
             With `restart`, the victims start again and the second rebalance is measured.",
        )
        .param(spec::text("victim", "follower", "follower | leader | worker-N"))
        .param(spec::int("victims", 1, "how many workers to stop (1 or 2)"))
        .param(spec::text("signal", "kill", "kill (SIGKILL, unclean) | stop (SIGTERM, clean)"))
        .param(spec::duration("warmup", "30s", "steady load before the fault"))
        .param(spec::duration("recovery_timeout", "3m", "longest wait for the rebalance"))
        .param(spec::duration("after", "30s", "steady load after recovery"))
        .param(spec::flag("restart", true, "start the victims again and measure the second rebalance"))
        .param(spec::duration("poll", "100ms", "Connect status polling interval (not scaled below 50 ms)"))
        .apply(|d| mm2::tracked_load_params(d, TRACKED))
        .cluster("source")
        .cluster("target")
        .connect();
        for worker in WORKERS {
            describe = describe.fault(worker);
        }
        describe.build()
    }

    fn run() -> Result<(), ScenarioError> {
        let poll = param::duration("poll")?.max(Duration::from_millis(50));
        let victims_wanted = param::int("victims")?.clamp(1, 2) as usize;
        let action = match param::text("signal")?.as_str() {
            "kill" => Action::Kill,
            "stop" => Action::Stop,
            other => return Err(format!("signal must be kill or stop, got {other:?}").into()),
        };

        let connectors = mm2::mirror()?.connector_names();

        phase("before");
        let (load, _topic) = mm2::start_tracked_load(&[])?;
        mm2::wait_healthy(&connectors, Duration::from_secs(120), poll)?
            .ok_or("MirrorMaker 2 connectors are not all RUNNING before the fault")?;
        sleep(param::duration("warmup")?);

        let baseline = mm2::statuses(&connectors)?;
        let leader = connect::leader()?;
        let victims = choose_victims(
            &param::text("victim")?,
            victims_wanted,
            leader.as_deref(),
            &baseline,
        )?;
        let victim_ids: Vec<String> = victims.iter().map(|(_, id)| id.clone()).collect();
        let was_leader = victims
            .iter()
            .any(|(name, _)| Some(name.as_str()) == leader.as_deref());
        figure("victim_was_leader", if was_leader { 1.0 } else { 0.0 }, "");
        event(
            "victims",
            &format!(
                "{} ({}; leader is {})",
                victims
                    .iter()
                    .map(|(n, id)| format!("{n} {id}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if was_leader {
                    "includes the leader"
                } else {
                    "followers"
                },
                leader.as_deref().unwrap_or("unknown")
            ),
        );

        phase("fault");
        let mut fault_at = None;
        for (name, _) in &victims {
            let at = Duration::from_nanos(faults::inject(name, action)?);
            fault_at.get_or_insert(at);
        }
        let fault_at = fault_at.expect("at least one victim");
        let survivors_only = |statuses: &[ConnectorStatus]| {
            statuses.iter().all(mm2::healthy)
                && statuses
                    .iter()
                    .flat_map(|s| &s.tasks)
                    .all(|t| !victim_ids.contains(&t.worker_id))
        };
        let reaction = mm2::watch_reaction(
            &connectors,
            &baseline,
            fault_at,
            Some(&load),
            mm2::Expect::Change,
            param::duration("recovery_timeout")?,
            poll,
            survivors_only,
        )?;
        mm2::record_reaction("rebalance", &reaction);
        let placement = mm2::task_placement(&mm2::statuses(&connectors)?);
        event(
            "placement",
            &format!("tasks after the rebalance: {placement:?}"),
        );
        figure("workers_with_tasks", placement.len() as f64, "workers");
        if reaction.recovered.is_none() {
            warn("the tasks did not all come back RUNNING on live workers within recovery_timeout");
        }

        phase("after");
        sleep(param::duration("after")?);

        if param::flag("restart")? {
            phase("rejoin");
            let baseline = mm2::statuses(&connectors)?;
            let mut start_at = None;
            for (name, _) in &victims {
                let at = Duration::from_nanos(faults::inject(name, Action::Start)?);
                start_at.get_or_insert(at);
            }
            let rejoined = |statuses: &[ConnectorStatus]| {
                statuses.iter().all(mm2::healthy)
                    && connect::workers()
                        .iter()
                        .filter(|w| victim_ids.contains(&w.worker_id))
                        .all(|w| w.alive)
            };
            let reaction = mm2::watch_reaction(
                &connectors,
                &baseline,
                start_at.expect("at least one victim"),
                Some(&load),
                mm2::Expect::ChangeWithin(Duration::from_secs(5)),
                param::duration("recovery_timeout")?,
                poll,
                rejoined,
            )?;
            mm2::record_reaction("rejoin", &reaction);
            sleep(param::duration("after")?);
        }

        mm2::finish_tracked_load(load);
        Ok(())
    }
}

/// The workers to stop: (logical name, worker id).
fn choose_victims(
    choice: &str,
    count: usize,
    leader: Option<&str>,
    statuses: &[ConnectorStatus],
) -> Result<Vec<(String, String)>, ScenarioError> {
    let workers = connect::workers();
    let tasks_on = |id: &str| {
        statuses
            .iter()
            .flat_map(|s| &s.tasks)
            .filter(|t| t.worker_id == id)
            .count()
    };
    let mut ranked: Vec<_> = workers.iter().filter(|w| w.alive).collect();
    // Busiest first, so a kill always moves tasks.
    ranked.sort_by_key(|w| std::cmp::Reverse(tasks_on(&w.worker_id)));
    let first = match choice {
        "leader" => ranked.iter().find(|w| Some(w.name.as_str()) == leader),
        "follower" => ranked.iter().find(|w| Some(w.name.as_str()) != leader),
        name => ranked.iter().find(|w| w.name == name),
    }
    .ok_or_else(|| ScenarioError::Failed(format!("no live worker matches victim {choice:?}")))?;
    let mut victims = vec![(first.name.clone(), first.worker_id.clone())];
    for worker in &ranked {
        if victims.len() == count {
            break;
        }
        if worker.name != first.name {
            victims.push((worker.name.clone(), worker.worker_id.clone()));
        }
    }
    if victims.len() < count || victims.len() >= ranked.len() {
        return Err(format!(
            "cannot stop {count} of {} live workers and keep one",
            ranked.len()
        )
        .into());
    }
    Ok(victims)
}

kscen_sdk::export_scenario!(WorkerKill);
