//! Kafka Connect worker settings a campaign step changes (`worker = { "offset.flush.interval.ms" =
//! 5000 }`, or a matrix over them). A worker reads its properties file only when it starts, so
//! each file named by the profile (`config_file`) is rewritten and the workers are restarted one
//! at a time with the profile's `stop` and `start` actions, the mirror healthy again before the
//! next one: the same rolling restart an operator does. The files as they were are kept in the
//! campaign ledger and put back after the step, also by the next run when kscen died between.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::between::{self, Deployment};
use super::plan::After;
use crate::config::client_props::Property;
use crate::faults::{Action, FaultTargets};

const POLL: Duration = Duration::from_millis(500);

/// A worker's properties file as it was before a step changed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub worker: String,
    pub file: PathBuf,
    pub contents: String,
}

/// Every worker's properties file, as it is now. Each worker needs a `config_file` and `stop` and
/// `start` actions in the profile: a step that changed some workers only would compare nothing.
pub fn save(deployment: &Deployment<'_>) -> Result<Vec<Saved>> {
    let workers = &deployment.profile.workers;
    ensure!(
        !workers.is_empty(),
        "profile {}: worker settings are written into the workers' properties files, and the \
         profile lists no [workers.NAME]",
        deployment.profile_name
    );
    let mut saved = Vec::new();
    for (name, worker) in workers {
        let file = worker.config_file.clone().with_context(|| {
            format!(
                "profile {}: worker {name} has no config_file (its worker.properties, which a \
                 step's worker settings are written into)",
                deployment.profile_name
            )
        })?;
        for action in [Action::Stop, Action::Start] {
            ensure!(
                worker.actions.contains_key(action.key()),
                "profile {}: worker {name} has no {} action, and new worker settings take effect \
                 only when it restarts",
                deployment.profile_name,
                action.key()
            );
        }
        let contents = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read worker {name}'s {}", file.display()))?;
        saved.push(Saved {
            worker: name.clone(),
            file,
            contents,
        });
    }
    Ok(saved)
}

/// Writes each saved file with `settings` over it; what changed, for the progress view.
pub fn apply(saved: &[Saved], settings: &[Property]) -> Result<Vec<String>> {
    let mut said = Vec::new();
    for before in saved {
        let (text, changed) = with_settings(&before.contents, settings);
        write(&before.file, &text)?;
        said.push(format!("worker {}: {}", before.worker, changed.join(", ")));
    }
    Ok(said)
}

/// Writes every saved file back as it was.
pub fn restore(saved: &[Saved]) -> Result<()> {
    for before in saved {
        write(&before.file, &before.contents).with_context(|| {
            format!(
                "cannot restore worker {}'s settings (kept in the campaign ledger; run the \
                 campaign again to retry)",
                before.worker
            )
        })?;
    }
    Ok(())
}

/// Restarts the workers one by one: `stop`, `start`, its REST API answering again, and the mirror
/// healthy, before the next. What it did, for the progress view.
pub async fn rolling_restart(
    deployment: &Deployment<'_>,
    saved: &[Saved],
    healthy: &After,
    mirror_choice: Option<&str>,
) -> Result<String> {
    let targets = FaultTargets::try_from_profile(deployment.profile)?;
    let client = deployment.connect()?;
    let started = Instant::now();
    for Saved { worker, .. } in saved {
        for action in [Action::Stop, Action::Start] {
            targets
                .inject(worker, action)
                .await
                .with_context(|| format!("worker {worker}: {} action", action.key()))?;
        }
        let deadline = Instant::now() + healthy.timeout;
        while !client
            .workers()
            .await
            .iter()
            .any(|w| &w.name == worker && w.alive)
        {
            if Instant::now() > deadline {
                bail!(
                    "worker {worker} was started again but its REST API did not answer within {}",
                    crate::config::units::format_duration(healthy.timeout)
                );
            }
            tokio::time::sleep(POLL).await;
        }
        between::settle(healthy, Some(deployment), mirror_choice)
            .await
            .with_context(|| format!("after restarting worker {worker}"))?;
    }
    Ok(format!(
        "{} worker(s) restarted one by one in {:.1} s",
        saved.len(),
        started.elapsed().as_secs_f64()
    ))
}

fn write(file: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

/// `text` (a Java properties file) with `settings` over it, comments and order kept, and each
/// change as `key old → new`. A key set on several lines is set on each; a value continued on
/// the next lines (trailing `\`) is replaced whole.
fn with_settings(text: &str, settings: &[Property]) -> (String, Vec<String>) {
    let mut lines: Vec<String> = Vec::new();
    let mut old_values: Vec<Option<String>> = vec![None; settings.len()];
    let mut source = text.lines();
    while let Some(line) = source.next() {
        let mut logical = line.to_string();
        let mut raw = vec![line.to_string()];
        while continues(&logical) {
            let Some(next) = source.next() else { break };
            logical.pop();
            logical.push_str(next.trim_start());
            raw.push(next.to_string());
        }
        match split_entry(&logical)
            .and_then(|(key, value)| Some((settings.iter().position(|(k, _)| k == key)?, value)))
        {
            Some((index, value)) => {
                old_values[index] = Some(value.to_string());
                let (key, new) = &settings[index];
                lines.push(format!("{key}={new}"));
            }
            None => lines.extend(raw),
        }
    }
    let mut changed = Vec::new();
    for ((key, value), old) in settings.iter().zip(old_values) {
        match old {
            Some(old) => changed.push(format!("{key} {old} → {value}")),
            None => {
                lines.push(format!("{key}={value}"));
                changed.push(format!("{key} (unset) → {value}"));
            }
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (text, changed)
}

/// A line ending in an odd number of backslashes continues on the next line.
fn continues(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The key and value of a properties line; none for a blank or comment line. The key ends at
/// the first unescaped `=`, `:` or whitespace.
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
        return None;
    }
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '=' | ':' | ' ' | '\t' if !escaped => {
                let rest = line[at..].trim_start();
                let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
                return Some((&line[..at], rest));
            }
            _ => escaped = false,
        }
    }
    Some((line, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(list: &[(&str, &str)]) -> Vec<Property> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_replace_their_lines_and_keep_the_rest_of_the_file() {
        let text =
            "# worker 1\nbootstrap.servers=127.0.0.1:9092\noffset.flush.interval.ms = 10000\n\
                    group.id: mm2\n";
        let (out, changed) = with_settings(
            text,
            &settings(&[
                ("offset.flush.interval.ms", "5000"),
                ("group.id", "mm2-b"),
                ("task.shutdown.graceful.timeout.ms", "2000"),
            ]),
        );
        assert_eq!(
            out,
            "# worker 1\nbootstrap.servers=127.0.0.1:9092\noffset.flush.interval.ms=5000\n\
             group.id=mm2-b\ntask.shutdown.graceful.timeout.ms=2000\n"
        );
        assert_eq!(
            changed,
            [
                "offset.flush.interval.ms 10000 → 5000",
                "group.id mm2 → mm2-b",
                "task.shutdown.graceful.timeout.ms (unset) → 2000"
            ]
        );
    }

    #[test]
    fn comments_escaped_keys_and_continued_values_are_read_as_java_does() {
        let text = "#offset.flush.interval.ms=1\nplugin.path=/a,\\\n    /b\nodd\\=key=1\n";
        let (out, changed) = with_settings(
            text,
            &settings(&[("offset.flush.interval.ms", "5"), ("plugin.path", "/c")]),
        );
        assert_eq!(
            out,
            "#offset.flush.interval.ms=1\nplugin.path=/c\nodd\\=key=1\noffset.flush.interval.ms=5\n"
        );
        assert_eq!(
            changed,
            [
                "offset.flush.interval.ms (unset) → 5",
                "plugin.path /a,/b → /c"
            ]
        );
    }

    #[test]
    fn applying_then_restoring_gives_the_file_back_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.properties");
        let original = "a=1\n# no newline at the end";
        std::fs::write(&file, original).unwrap();
        let saved = vec![Saved {
            worker: "w1".into(),
            file: file.clone(),
            contents: original.into(),
        }];
        apply(&saved, &settings(&[("a", "2")])).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "a=2\n# no newline at the end\n"
        );
        restore(&saved).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
    }
}
