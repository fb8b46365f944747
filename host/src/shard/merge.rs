//! `kscen merge`: the N results of a sharded run added into the one result a single process
//! would have written. A pure function over results: histograms are added (HdrHistogram adds
//! exactly, so merged percentiles are those of one histogram fed every shard's values), counts,
//! rates and replication verdicts summed, timelines aligned on the shards' common start, and the
//! thresholds judged once, on the merged figures.

use std::collections::BTreeMap;

use crate::metrics::histogram;
use crate::metrics::timeline::TimelinePoint;
use crate::result::{
    Counts, HistogramResult, JobReplication, Outcome, PhaseResult, RunResult, Sharded,
};

/// The shards' results merged, thresholds judged; an error naming the shard that does not fit.
/// `names` label the shards in messages (their files).
pub fn merge(shards: Vec<RunResult>, names: &[String]) -> Result<RunResult, String> {
    let shards = in_shard_order(shards, names)?;
    let first = &shards[0];
    let mut merged = first.clone();
    merged.shard = first.shard.map(|s| Sharded { index: None, ..s });
    merged.started_at = shards.iter().filter_map(|s| s.started_at).min();
    merged.ended_at = shards.iter().filter_map(|s| s.ended_at).max();
    merged.duration_s = merged
        .started_at
        .zip(merged.ended_at)
        .map(|(start, end)| (end - start).as_seconds_f64());
    merged.outcome = outcome(&shards);
    merged.incomplete = shards.iter().find_map(|s| s.incomplete.clone());
    merged.phases = phases(&shards)?;
    merged.totals = Counts::over(&merged.phases);
    merged.timeline = timeline(&shards);
    merged.events = events(&shards);
    merged.custom_histograms = add_histogram_maps(shards.iter().map(|s| &s.custom_histograms))?;
    merged.replication = replication(&shards);
    merged.consumers = shards.iter().flat_map(|s| s.consumers.clone()).collect();
    merged.figures = figures(&shards);
    for shard in &shards[1..] {
        for (group, verdict) in &shard.groups {
            let sum = merged.groups.entry(group.clone()).or_default();
            sum.read += verdict.read;
            sum.read_twice += verdict.read_twice;
            sum.unread += verdict.unread;
        }
    }
    let thresholds = thresholds_of(first)?;
    crate::thresholds::judge_run(&mut merged, &thresholds);
    Ok(merged)
}

/// The results ordered by shard index, after checking they are the N shards of one run.
fn in_shard_order(shards: Vec<RunResult>, names: &[String]) -> Result<Vec<RunResult>, String> {
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
    let Some(first) = shards.first() else {
        return Err("no shard results to merge".into());
    };
    let Some(run) = first.shard else {
        return Err(format!(
            "{} is not a shard's result: merge the results of `kscen run --shard I/N`",
            name(0)
        ));
    };
    let scenario = first.scenario.name.clone();
    let mut ordered: Vec<Option<RunResult>> = vec![None; run.count as usize];
    for (i, result) in shards.into_iter().enumerate() {
        let shard = match result.shard {
            Some(Sharded {
                index: Some(index),
                count,
                start_at,
            }) if count == run.count && start_at == run.start_at => index,
            Some(other) => {
                return Err(format!(
                    "{} is shard {:?} of {} starting at {}, not of the run of {} shards starting \
                     at {} that {} belongs to",
                    name(i),
                    other.index,
                    other.count,
                    other.start_at.to_rfc3339(),
                    run.count,
                    run.start_at.to_rfc3339(),
                    name(0)
                ))
            }
            None => return Err(format!("{} is not a shard's result", name(i))),
        };
        if result.scenario.name != scenario {
            return Err(format!(
                "{} ran scenario {}, the others another",
                name(i),
                result.scenario.name
            ));
        }
        let slot = &mut ordered[shard as usize];
        if slot.is_some() {
            return Err(format!("shard {shard} is given twice ({})", name(i)));
        }
        *slot = Some(result);
    }
    let missing: Vec<String> = ordered
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the run had {} shards; missing: shard {}",
            run.count,
            missing.join(", ")
        ));
    }
    Ok(ordered.into_iter().flatten().collect())
}

/// A shard that failed fails the run; the first one in shard order says why, naming itself.
fn outcome(shards: &[RunResult]) -> Outcome {
    let named = |index: usize, outcome: &Outcome| -> Outcome {
        let prefix = format!("shard {index}: ");
        match outcome {
            Outcome::Aborted { reason } => Outcome::Aborted {
                reason: format!("{prefix}{reason}"),
            },
            Outcome::Failed { failure } => Outcome::Failed {
                failure: failure.prefixed(&prefix),
            },
            other => other.clone(),
        }
    };
    for wanted in ["failed", "aborted", "running"] {
        if let Some((index, shard)) = shards
            .iter()
            .enumerate()
            .find(|(_, s)| s.outcome.status() == wanted)
        {
            return named(index, &shard.outcome);
        }
    }
    Outcome::Completed
}

/// Each phase of shard 0, in its order, with every shard's figures for the phase of that name.
fn phases(shards: &[RunResult]) -> Result<Vec<PhaseResult>, String> {
    let mut merged = Vec::new();
    for phase in &shards[0].phases {
        let parts: Vec<&PhaseResult> = shards
            .iter()
            .filter_map(|s| s.phases.iter().find(|p| p.name == phase.name))
            .collect();
        let sum_f64 = |field: fn(&PhaseResult) -> Option<f64>| -> Option<f64> {
            parts.iter().map(|p| field(p)).sum()
        };
        let add = |field: fn(&PhaseResult) -> Option<&HistogramResult>| {
            add_histograms(parts.iter().filter_map(|p| field(p)))
                .map_err(|e| format!("phase {}: {e}", phase.name))
        };
        merged.push(PhaseResult {
            name: phase.name.clone(),
            start_s: parts.iter().filter_map(|p| p.start_s).reduce(f64::min),
            end_s: parts.iter().filter_map(|p| p.end_s).reduce(f64::max),
            target_rate: phase.target_rate.map(|_| {
                parts
                    .iter()
                    .map(|p| p.target_rate.flatten())
                    .sum::<Option<f64>>()
            }),
            achieved_rate: sum_f64(|p| p.achieved_rate),
            mb_per_s: sum_f64(|p| p.mb_per_s),
            counts: Counts::sum(parts.iter().map(|p| &p.counts)),
            schedule_lag_us: add(|p| p.schedule_lag_us.as_ref())?,
            service_us: add(|p| p.service_us.as_ref())?,
            corrected_us: add(|p| p.corrected_us.as_ref())?,
            replicated_us: add(|p| p.replicated_us.as_ref())?,
            custom_histograms: add_histogram_maps(parts.iter().map(|p| &p.custom_histograms))
                .map_err(|e| format!("phase {}: {e}", phase.name))?,
            imported: None,
        });
    }
    Ok(merged)
}

/// The sum of `parts`, none when there are none; an error when one holds no histogram to add.
fn add_histograms<'a>(
    parts: impl Iterator<Item = &'a HistogramResult>,
) -> Result<Option<HistogramResult>, String> {
    let mut sum: Option<hdrhistogram::Histogram<u64>> = None;
    for part in parts {
        let decoded = part
            .hdr
            .as_deref()
            .and_then(histogram::decode)
            .ok_or("a shard's histogram has only its summary: it cannot be added exactly")?;
        match &mut sum {
            Some(sum) => sum
                .add(&decoded)
                .map_err(|e| format!("the shards' histograms differ in bounds: {e:?}"))?,
            None => sum = Some(decoded),
        }
    }
    Ok(sum.as_ref().map(HistogramResult::of))
}

/// Histograms of the same name added.
fn add_histogram_maps<'a>(
    maps: impl Iterator<Item = &'a BTreeMap<String, HistogramResult>>,
) -> Result<BTreeMap<String, HistogramResult>, String> {
    let mut by_name: BTreeMap<&String, Vec<&HistogramResult>> = BTreeMap::new();
    for map in maps {
        for (name, histogram) in map {
            by_name.entry(name).or_default().push(histogram);
        }
    }
    by_name
        .into_iter()
        .filter_map(|(name, parts)| match add_histograms(parts.into_iter()) {
            Ok(sum) => sum.map(|sum| Ok((name.clone(), sum))),
            Err(e) => Some(Err(format!("{name}: {e}"))),
        })
        .collect()
}

/// Every shard's second t added into the merged second t: the shards started at one instant, so
/// their seconds are the same seconds. Counts and rates add; latencies of the second take the
/// worst shard's (a second's p99 cannot be rebuilt from the shards' p99s; the phases' can);
/// gauges are the deployment's, as shard 0 read them.
fn timeline(shards: &[RunResult]) -> Vec<TimelinePoint> {
    let mut seconds: BTreeMap<i64, TimelinePoint> = BTreeMap::new();
    for shard in shards {
        for point in &shard.timeline {
            let second = point.t_s.round() as i64;
            let Some(sum) = seconds.get_mut(&second) else {
                seconds.insert(second, point.clone());
                continue;
            };
            let acked_before = sum.acked_per_s;
            sum.sent += point.sent;
            sum.acked += point.acked;
            sum.failed += point.failed;
            sum.acked_per_s += point.acked_per_s;
            sum.mb_per_s += point.mb_per_s;
            sum.service_avg_ms = weighted(
                sum.service_avg_ms,
                acked_before,
                point.service_avg_ms,
                point.acked_per_s,
            );
            sum.service_max_ms = sum.service_max_ms.max(point.service_max_ms);
            sum.corrected_p99_ms = sum.corrected_p99_ms.max(point.corrected_p99_ms);
            sum.backlog += point.backlog;
            sum.replication_lag_records =
                add_options(sum.replication_lag_records, point.replication_lag_records);
            sum.replication_lag_ms = sum.replication_lag_ms.max(point.replication_lag_ms);
            sum.consumed_per_s = add_options(sum.consumed_per_s, point.consumed_per_s);
            sum.consumed_mb_per_s = add_options(sum.consumed_mb_per_s, point.consumed_mb_per_s);
            for (group, lag) in &point.group_lag {
                sum.group_lag.entry(group.clone()).or_insert(*lag);
            }
            for (gauge, value) in &point.gauges {
                sum.gauges.entry(gauge.clone()).or_insert(*value);
            }
            if sum.phase.is_none() {
                sum.phase.clone_from(&point.phase);
            }
        }
    }
    seconds.into_values().collect()
}

fn weighted(a: f64, weight_a: f64, b: f64, weight_b: f64) -> f64 {
    let total = weight_a + weight_b;
    if total > 0.0 {
        (a * weight_a + b * weight_b) / total
    } else {
        a.max(b)
    }
}

fn add_options<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// The plugin's figures: a count every shard reports (records, bytes) is the sum of the shards';
/// any other figure (a time, a rate, a peak) is shard 0's, which acts on the deployment, or the
/// first shard's that has it.
fn figures(shards: &[RunResult]) -> BTreeMap<String, crate::metrics::Figure> {
    let mut merged = shards[0].figures.clone();
    for shard in &shards[1..] {
        for (name, figure) in &shard.figures {
            match merged.get_mut(name) {
                Some(sum)
                    if ADDED_UNITS.contains(&sum.unit.as_str()) && sum.unit == figure.unit =>
                {
                    sum.value += figure.value
                }
                Some(_) => {}
                None => {
                    merged.insert(name.clone(), figure.clone());
                }
            }
        }
    }
    merged
}

/// Units of figures that count things, which the shards' results add.
const ADDED_UNITS: [&str; 3] = ["records", "bytes", "count"];

/// Every shard's events on the shared clock, the other shards' marked with their index.
fn events(shards: &[RunResult]) -> Vec<crate::metrics::events::Event> {
    let mut events: Vec<_> = shards
        .iter()
        .enumerate()
        .flat_map(|(index, shard)| {
            shard.events.iter().cloned().map(move |mut event| {
                if index > 0 {
                    event.message = format!("[shard {index}] {}", event.message);
                }
                event
            })
        })
        .collect();
    events.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    events
}

/// One verdict per tracked load (the same job on every shard), its counts summed: each shard
/// verified exactly the records it sent, on the partitions it owns.
fn replication(shards: &[RunResult]) -> Vec<JobReplication> {
    let mut merged: Vec<JobReplication> = Vec::new();
    for job in shards.iter().flat_map(|s| &s.replication) {
        let same = merged.iter_mut().find(|m| {
            m.job == job.job
                && m.cluster == job.cluster
                && m.topic == job.topic
                && m.target_cluster == job.target_cluster
                && m.remote_topic == job.remote_topic
        });
        let Some(sum) = same else {
            merged.push(job.clone());
            continue;
        };
        sum.sent += job.sent;
        sum.acked += job.acked;
        sum.failed += job.failed;
        let (total, part) = (&mut sum.verdict, &job.verdict);
        total.replicated += part.replicated;
        total.duplicates += part.duplicates;
        total.out_of_order += part.out_of_order;
        total.lost += part.lost;
        total.lag_records += part.lag_records;
        total.lag_ms = total.lag_ms.max(part.lag_ms);
    }
    merged
}

/// The thresholds shard 0 was judged on, to judge the merge on: every shard ran the same ones.
fn thresholds_of(shard: &RunResult) -> Result<Vec<crate::thresholds::Threshold>, String> {
    let mut texts: Vec<&str> = Vec::new();
    for threshold in &shard.thresholds {
        if !texts.contains(&threshold.threshold.as_str()) {
            texts.push(&threshold.threshold);
        }
    }
    texts
        .into_iter()
        .map(|text| crate::thresholds::parse(text).map_err(|e| format!("{text}: {e:#}")))
        .collect()
}

#[cfg(test)]
mod tests;
