//! `kscen campaign run`: a whole test plan from one file, step after step, each step a `kscen run`
//! whose result is kept in the campaign's results folder; resumed after an interruption without
//! redoing a finished step; the campaign's verdict is its exit code.
//!
//! - `plan`: the campaign file, checked whole before anything runs;
//! - `matrix`: a step's matrix and repetitions, one step per cell;
//! - `comparisons`: the baselines and candidates the file declares (`[[compare]]`);
//! - `ledger`: `campaign.json`, which steps finished and how;
//! - `between`: what to wait for between steps (a pause, the mirror healthy, its backlog copied);
//! - `connector_settings`: MM2 connector settings a step changes, saved and put back;
//! - `worker_settings`: Connect worker settings a step changes, rolled out and put back.

pub mod between;
pub mod comparisons;
pub mod connector_settings;
pub mod ledger;
pub mod matrix;
pub mod plan;
pub mod worker_settings;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use self::between::Deployment;
use self::ledger::{campaign_exit_code, Ledger, StepRecord, StepVerdict};
use self::plan::{After, Campaign, Overrides, PlannedStep};
use crate::config::profile::Profile;
use crate::engine::Host;
use crate::exit::{EXIT_ERROR, EXIT_INTERRUPTED};
use crate::report::matrix::Matrix;
use crate::result::{DeploymentSettings, LoadedResult};
use crate::run::command::{exit_code, run_scenario, RunArgs};

#[derive(Debug, clap::Subcommand)]
pub enum CampaignCommand {
    /// Run a campaign's steps in order. Run it again after an interruption: finished steps are
    /// kept (their results and verdicts), the rest run.
    #[command(
        after_help = "Example, the seeds' whole plan on the lab in minutes:\n  kscen campaign run seeds-plan --profile lab --set time_scale=0.01\n\nA campaign file:\n  name = \"day 1\"\n  results = \"results/day-1\"        # relative to the file\n  profile = \"lab\"\n  set = { time_scale = 0.1 }           # every step's parameters (a step's own set wins)\n  after = { pause = \"10s\", mirror_healthy = true, lag_drained = true, timeout = \"10m\" }\n  stop_on_fail = false\n\n  [[step]]\n  name = \"PERF-01 nominal\"\n  scenario = \"perf-01-nominal\"        # bundled name, or a file beside the campaign\n  set = { rate = 2000 }\n  producer = { \"linger.ms\" = 5 }\n  thresholds = [\"corrected.p99 < 100ms\"]\n  # also: consumer, grant_faults, mirror, alerts, mm2_metrics, after,\n  # connector.source = { \"tasks.max\" = 4 }   (through Connect, restored after the step)\n\n  [[step]]\n  name = \"PERF-01 linger 20\"\n  scenario = \"perf-01-nominal\"\n  set = { rate = 2000 }\n  producer = { \"linger.ms\" = 20 }\n  repeat = 3\n\n  [[step]]\n  name = \"linger x codec\"\n  scenario = \"perf-01-nominal\"\n  repeat = 3\n  matrix = { \"producer.linger.ms\" = [0, 5, 50], \"producer.compression.type\" = [\"none\", \"lz4\"] }\n\n  [[compare]]                          # a pair of your own, compared as kscen compare does\n  name = \"linger 20 vs nominal\"       # optional\n  baseline = \"PERF-01 nominal\"        # a step's name, or a list of steps: repetitions\n  candidate = \"PERF-01 linger 20\"     # a repeated step's name stands for its repetitions\n\nAt the end, each matrix's cells are compared with their baseline (the first cell of the same\nscenario parameters) and the setting the evidence supports is named, and each [[compare]] is shown\nmetric by metric with its change and whether it is beyond noise; `kscen report RESULTS` writes the\nday's report with the campaign's steps, configuration changes, matrices, declared comparisons and\nwhat is left to validate.\n\nExit code: the worst step's (0 every step passed, 2 a threshold failed, 3 a plugin failed,\n1 a step could not run), 130 when interrupted."
    )]
    Run(CampaignRunArgs),
}

#[derive(Debug, clap::Args)]
pub struct CampaignRunArgs {
    /// Campaign file (TOML), or a bundled campaign by name (`seeds-plan`).
    pub campaign: PathBuf,
    /// Profile for every step (a file, or `lab`), over the campaign file's `profile`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Results folder, over the campaign file's `results`.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// A parameter for every step, over the campaign file's `set` (a step's own `set` wins), in
    /// TOML value syntax: --set time_scale=0.01.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run every step again, even those an earlier run of the campaign finished.
    #[arg(long)]
    pub restart: bool,
}

pub async fn run(command: CampaignCommand) -> Result<u8> {
    match command {
        CampaignCommand::Run(args) => run_campaign(args).await,
    }
}

async fn run_campaign(args: CampaignRunArgs) -> Result<u8> {
    let overrides = Overrides {
        profile: args.profile,
        results: args.results,
        set: Overrides::parse_set(&args.set)?,
    };
    let campaign = Campaign::load(&args.campaign, &overrides)?;
    let profile = match &campaign.profile {
        Some(name) => Some((name.clone(), Profile::load(name)?)),
        None => None,
    };
    if profile.is_none() {
        if let Some(step) = campaign.steps.iter().find(|s| {
            s.after.mirror_healthy
                || s.after.lag_drained
                || !s.connector.is_empty()
                || !s.worker.is_empty()
        }) {
            bail!(
                "step {} ({}) waits for the mirror or changes its connectors or workers, which \
                 kscen does through a profile's Connect and workers: give the campaign one \
                 (profile = \"...\" or --profile lab)",
                step.number,
                step.step.name
            );
        }
    }
    // From here a Ctrl-C is kept until the campaign reaches a point where it can stop cleanly: a
    // wait between steps, or the next step's run, which stops at once and keeps its partial result.
    crate::interrupt::listen();
    let deployment = profile.as_ref().map(|(name, profile)| Deployment {
        profile_name: name,
        profile,
    });
    let dir = &campaign.results_dir;
    let mut ledger = match Ledger::read(dir)? {
        Some(_) if args.restart => Ledger::new(&campaign.name, &campaign.path),
        Some(earlier) if earlier.campaign != campaign.name => bail!(
            "{} holds the results of campaign {:?}, not {:?}: give this one its own --results \
             folder, or run with --restart to start it there afresh",
            dir.display(),
            earlier.campaign,
            campaign.name
        ),
        Some(earlier) => earlier,
        None => Ledger::new(&campaign.name, &campaign.path),
    };
    if ledger.comparisons != campaign.comparisons {
        // Kept for the report, also when every step finished earlier.
        ledger.comparisons.clone_from(&campaign.comparisons);
        ledger.write(dir)?;
    }
    print_plan(&campaign, &ledger);
    if !ledger.to_restore.is_empty() {
        // kscen died during a step that had changed connectors: put them back first.
        let deployment = deployment.as_ref().context(
            "the ledger holds connector configurations to put back, and the campaign has no profile",
        )?;
        connector_settings::restore(&deployment.connect()?, &ledger.to_restore).await?;
        for saved in std::mem::take(&mut ledger.to_restore) {
            println!(
                "restored connector {}'s configuration, left changed by an interrupted step",
                saved.connector
            );
        }
        ledger.write(dir)?;
    }
    if !ledger.workers_to_restore.is_empty() {
        let deployment = deployment.as_ref().context(
            "the ledger holds worker properties files to put back, and the campaign has no profile",
        )?;
        let saved = ledger.workers_to_restore.clone();
        worker_settings::restore(&saved)?;
        let healthy = After::mirror_healthy_within(plan::DEFAULT_WAIT_TIMEOUT);
        let restarted = worker_settings::rolling_restart(deployment, &saved, &healthy, None)
            .await
            .context("restarting the workers with their restored settings")?;
        println!(
            "restored the workers' settings, left changed by an interrupted step ({restarted})"
        );
        ledger.workers_to_restore.clear();
        ledger.write(dir)?;
    }

    let host = Host::new()?;
    let total = campaign.steps.len();
    let mut verdicts = Vec::new();
    // The wait owed after the last step, done before the next step that runs (also on resume).
    let mut owed: Option<&After> = None;
    for step in &campaign.steps {
        if let Some(record) = ledger.finished(step, dir) {
            println!(
                "[{}/{total}] {}: {} earlier, kept ({})",
                step.number,
                step.step.name,
                record.verdict.label(),
                dir.join(&record.result).display()
            );
            verdicts.push(record.verdict);
            owed = Some(&step.after);
            continue;
        }
        if let Some(after) = owed.filter(|after| after.waits()) {
            match settle(after, deployment.as_ref(), step).await {
                Ok(true) => {}
                Ok(false) => {
                    verdicts.push(StepVerdict::Interrupted);
                    break;
                }
                Err(error) => {
                    eprintln!(
                        "error: before step {} ({}): {error:#}\nThe campaign stops here; run it \
                         again to resume from this step.",
                        step.number, step.step.name
                    );
                    verdicts.push(StepVerdict::Error);
                    break;
                }
            }
        }
        let record = match &deployment {
            Some(deployment) if !step.connector.is_empty() || !step.worker.is_empty() => {
                with_settings(&host, &campaign, step, deployment, &mut ledger).await?
            }
            _ => run_step(&host, &campaign, step, DeploymentSettings::default()).await,
        };
        let verdict = record.verdict;
        ledger.record(record);
        ledger.write(dir)?;
        verdicts.push(verdict);
        if verdict == StepVerdict::Interrupted {
            break;
        }
        if campaign.stop_on_fail && verdict != StepVerdict::Passed {
            println!(
                "stop_on_fail: the campaign stops after step {}",
                step.number
            );
            break;
        }
        owed = Some(&step.after);
    }
    print_summary(&campaign, &ledger);
    print_comparisons(&campaign, &ledger);
    let code = campaign_exit_code(&verdicts);
    if code == EXIT_INTERRUPTED {
        println!("Interrupted: run the same command again to resume; finished steps are kept.");
    }
    Ok(code)
}

/// The steps and what an earlier run of the campaign left.
fn print_plan(campaign: &Campaign, ledger: &Ledger) {
    println!(
        "Campaign {:?}: {} step(s), results in {}",
        campaign.name,
        campaign.steps.len(),
        campaign.results_dir.display()
    );
    if let Some(description) = &campaign.description {
        println!("  {}", description.lines().next().unwrap_or(""));
    }
    for step in &campaign.steps {
        let state = match ledger.finished(step, &campaign.results_dir) {
            Some(record) => format!("{} earlier", record.verdict.label()),
            None => "to run".into(),
        };
        println!(
            "  {:>2}. {:<36} {:<34} {state}",
            step.number,
            step.step.name,
            step.scenario.display()
        );
    }
}

/// Waits before `next`; false when the operator interrupted the wait.
async fn settle(
    after: &After,
    deployment: Option<&Deployment<'_>>,
    next: &PlannedStep,
) -> Result<bool> {
    println!("… waiting before step {} ({})", next.number, next.step.name);
    tokio::select! {
        waited = between::settle(after, deployment, next.step.mirror.as_deref()) => {
            println!("  {}", waited?.join(", "));
            Ok(true)
        }
        () = crate::interrupt::interrupted() => {
            eprintln!("\nInterrupted while waiting between steps.");
            Ok(false)
        }
    }
}

/// Runs `step` with its MirrorMaker 2 connector and Connect worker settings, saved in the ledger
/// first and put back after it, the mirror healthy again each time before going on.
async fn with_settings(
    host: &Host,
    campaign: &Campaign,
    step: &PlannedStep,
    deployment: &Deployment<'_>,
    ledger: &mut Ledger,
) -> Result<StepRecord> {
    let context = || format!("step {} ({})", step.number, step.step.name);
    let mirror_choice = step.step.mirror.as_deref();
    let client = deployment.connect()?;
    let saved_connectors = if step.connector.is_empty() {
        Vec::new()
    } else {
        let mirrors = deployment.mirrors(mirror_choice).await?;
        let [mirror] = &mirrors[..] else {
            bail!(
                "{}: the deployment runs {} mirrors; name the one whose connectors the step \
                 changes with mirror = \"...\"",
                context(),
                mirrors.len()
            );
        };
        connector_settings::save(&client, mirror, &step.connector)
            .await
            .with_context(context)?
    };
    let saved_workers = if step.worker.is_empty() {
        Vec::new()
    } else {
        worker_settings::save(deployment).with_context(context)?
    };
    ledger.to_restore = saved_connectors.clone();
    ledger.workers_to_restore = saved_workers.clone();
    ledger.write(&campaign.results_dir)?;
    let healthy = After::mirror_healthy_within(step.after.timeout);
    for change in connector_settings::apply(&client, &saved_connectors, &step.connector)
        .await
        .with_context(context)?
    {
        println!("  {change}");
    }
    if !saved_workers.is_empty() {
        for change in worker_settings::apply(&saved_workers, &step.worker).with_context(context)? {
            println!("  {change}");
        }
        let restarted =
            worker_settings::rolling_restart(deployment, &saved_workers, &healthy, mirror_choice)
                .await
                .with_context(|| format!("{}: rolling out its worker settings", context()))?;
        println!("  {restarted}");
    }
    between::settle(&healthy, Some(deployment), mirror_choice)
        .await
        .with_context(|| format!("{}: after changing its settings", context()))?;
    let in_force = DeploymentSettings::new(
        saved_connectors
            .iter()
            .zip(step.connector.iter())
            .map(|(saved, (_, settings))| (saved.connector.as_str(), settings.as_slice())),
        &step.worker,
    );
    let record = run_step(host, campaign, step, in_force).await;
    if !saved_workers.is_empty() {
        worker_settings::restore(&saved_workers)?;
        let restarted =
            worker_settings::rolling_restart(deployment, &saved_workers, &healthy, mirror_choice)
                .await
                .with_context(|| format!("{}: restoring its worker settings", context()))?;
        ledger.workers_to_restore.clear();
        ledger.write(&campaign.results_dir)?;
        println!("  worker settings restored ({restarted})");
    }
    if !saved_connectors.is_empty() {
        connector_settings::restore(&client, &saved_connectors).await?;
        ledger.to_restore.clear();
        ledger.write(&campaign.results_dir)?;
        println!("  connector configuration restored");
    }
    between::settle(&healthy, Some(deployment), mirror_choice)
        .await
        .with_context(|| format!("{}: after restoring its settings", context()))?;
    Ok(record)
}

/// Runs `step`, its result recording the connector and worker settings `with_settings` put in
/// force for it.
async fn run_step(
    host: &Host,
    campaign: &Campaign,
    step: &PlannedStep,
    deployment_settings: DeploymentSettings,
) -> StepRecord {
    let total = campaign.steps.len();
    println!(
        "\n━━ step {}/{total}: {} ({}) ━━",
        step.number,
        step.step.name,
        step.scenario.display()
    );
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let args = RunArgs {
        deployment_settings,
        ..step.run_args(campaign.profile.clone(), &campaign.results_dir)
    };
    let (exit, note) = match run_scenario(host, args).await {
        Ok((end, result)) => (exit_code(&end, &result), None),
        Err(error) => {
            eprintln!(
                "error: step {} ({}): {error:#}",
                step.number, step.step.name
            );
            (EXIT_ERROR, Some(format!("{error:#}")))
        }
    };
    let verdict = StepVerdict::from_exit_code(exit);
    let record = StepRecord {
        number: step.number,
        name: step.step.name.clone(),
        fingerprint: step.fingerprint.clone(),
        result: step.result_file.clone(),
        verdict,
        exit_code: exit,
        started_at,
        duration_s: clock.elapsed().as_secs_f64(),
        settings: step.settings(),
        note,
        cell: step.cell.clone(),
    };
    println!(
        "[{}/{total}] {}: {} in {:.1} s → {}",
        step.number,
        step.step.name,
        verdict.label(),
        record.duration_s,
        campaign.results_dir.join(&step.result_file).display()
    );
    record
}

fn print_summary(campaign: &Campaign, ledger: &Ledger) {
    println!("\nCampaign {:?}:", campaign.name);
    println!(
        "  {:>2}  {:<36} {:<18} {:>9}  result",
        "#", "step", "verdict", "time"
    );
    for step in &campaign.steps {
        match ledger.steps.iter().find(|r| r.number == step.number) {
            Some(record) => println!(
                "  {:>2}  {:<36} {:<18} {:>7.1} s  {}",
                step.number,
                step.step.name,
                record.verdict.label(),
                record.duration_s,
                record.result
            ),
            None => println!(
                "  {:>2}  {:<36} {:<18}",
                step.number, step.step.name, "not run"
            ),
        }
    }
    println!(
        "  ledger: {}",
        Ledger::path(&campaign.results_dir).display()
    );
}

/// Each matrix's cells against its baseline and the setting the evidence supports, then each
/// comparison the campaign file declares, metric by metric, as `kscen compare` shows it.
fn print_comparisons(campaign: &Campaign, ledger: &Ledger) {
    let dir = &campaign.results_dir;
    // Unreadable results are left out here; `kscen report` names them.
    let runs: Vec<LoadedResult> = ledger
        .steps
        .iter()
        .filter_map(|record| crate::result::load(&dir.join(&record.result)).ok())
        .collect();
    let matrices = Matrix::all(dir, ledger, &runs);
    for matrix in &matrices {
        print!("\n{}", matrix.console());
    }
    for declared in &ledger.comparisons {
        println!("\nComparison {:?}:", declared.name);
        match declared.compare(dir, ledger, &runs) {
            Ok(comparison) => println!(
                "{}→ {}",
                comparison.console(),
                comparisons::tally(&comparison)
            ),
            Err(why) => println!("  not compared: {why}"),
        }
    }
    if !matrices.is_empty() || !ledger.comparisons.is_empty() {
        println!(
            "The evidence, figure by figure: kscen report {}",
            dir.display()
        );
    }
}
