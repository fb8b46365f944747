//! Campaign steps that change the deployment, on the real lab: a matrix over a MirrorMaker 2
//! connector setting (each cell puts `tasks.max` through Connect's REST API, runs, and puts the
//! configuration back), and a Connect worker setting rolled out by restarting the workers one by
//! one and put back the same way. Set `KSCEN_LAB_PROFILE`.

mod support;

use kscen::config::profile::Profile;
use kscen::connect::ConnectClient;
use kscen::deployment::mirrors::Role;
use support::{lab_profile_from, Sandbox};

/// Both tests change the lab's mirror: one at a time, from before to after.
static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the campaign `plan` (its steps run `steady.toml`, a short steady load) against the lab;
/// asserts it passed; returns the sandbox holding its results and what it printed.
async fn run_campaign(plan: &str, profile_arg: &str) -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("steady.toml"),
        "plugin = \"steady\"\n[params]\nduration = \"2s\"\nrate = 200\n",
    )
    .unwrap();
    std::fs::write(sandbox.path("plan.toml"), plan).unwrap();
    let mut command = sandbox.command(&["campaign", "run", "plan.toml", "--profile", profile_arg]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (sandbox, stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_max_matrix_is_applied_per_cell_and_restored() {
    let Some(profile_path) = lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let _one_at_a_time = LAB.lock().await;
    let profile_arg = profile_path.display().to_string();
    let profile = Profile::load(&profile_arg).unwrap();
    let mirrors = kscen::deployment::mirrors(&profile_arg, &profile)
        .await
        .unwrap();
    let source = mirrors[0].connector(Role::Source).unwrap().name.clone();
    let client = ConnectClient::from_profile(&profile).unwrap().unwrap();
    let before = client.config(&source).await.unwrap();

    let (sandbox, stdout) = run_campaign(
        r#"
name = "tasks.max"
results = "results"

[[step]]
name = "tasks"
scenario = "steady.toml"
matrix = { "connector.source.tasks.max" = [1, 4] }
"#,
        &profile_arg,
    )
    .await;
    for cell in ["1", "4"] {
        assert!(
            stdout.contains(&format!("{source}: tasks.max "))
                && stdout.contains(&format!(" → {cell}")),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout.matches("connector configuration restored").count(),
        2,
        "{stdout}"
    );
    let ledger: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path("results/campaign.json")).unwrap(),
    )
    .unwrap();
    let settings: Vec<&str> = ledger["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["settings"]["connector.source.tasks.max"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(settings, ["1", "4"]);
    assert!(ledger.get("to_restore").is_none(), "{ledger}");
    // Each cell's result records the setting it ran with, by connector name.
    for (step, cell) in ledger["steps"].as_array().unwrap().iter().zip(["1", "4"]) {
        let result = step_result(&sandbox, step);
        assert_eq!(
            result["environment"]["connector_settings"][&source]["tasks.max"], cell,
            "{}",
            result["environment"]
        );
        assert!(result["environment"].get("worker_settings").is_none());
    }

    let after = client.config(&source).await.unwrap();
    assert_eq!(
        after, before,
        "the source connector's configuration changed"
    );
}

/// The result file of a step of the ledger.
fn step_result(sandbox: &Sandbox, step: &serde_json::Value) -> serde_json::Value {
    let file = sandbox.path(&format!("results/{}", step["result"].as_str().unwrap()));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// The values of `key` in the configuration dumps a Connect worker logs each time it starts.
fn logged_values(log: &std::path::Path, key: &str) -> Vec<String> {
    let prefix = format!("{key} = ");
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().strip_prefix(&prefix).map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_setting_is_rolled_out_worker_by_worker_and_restored() {
    let Some(profile_path) = lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let _one_at_a_time = LAB.lock().await;
    let profile_arg = profile_path.display().to_string();
    let profile = Profile::load(&profile_arg).unwrap();
    const KEY: &str = "offset.flush.interval.ms";
    let workers: Vec<_> = profile.workers.values().collect();
    let files_before: Vec<String> = workers
        .iter()
        .map(|w| std::fs::read_to_string(w.config_file.as_ref().unwrap()).unwrap())
        .collect();
    // The lab's own value, whatever it is: the step sets another one.
    let original = files_before[0]
        .lines()
        .find_map(|l| l.strip_prefix(KEY)?.strip_prefix('='))
        .unwrap_or("60000")
        .to_string();
    let logged_before: Vec<usize> = workers
        .iter()
        .map(|w| logged_values(w.log_file.as_ref().unwrap(), KEY).len())
        .collect();

    let (sandbox, stdout) = run_campaign(
        r#"
name = "worker flush"
results = "results"

[[step]]
name = "flush 7321"
scenario = "steady.toml"
worker = { "offset.flush.interval.ms" = 7321 }
"#,
        &profile_arg,
    )
    .await;
    assert!(
        stdout.contains(&format!("{KEY} {original} → 7321"))
            || stdout.contains(&format!("{KEY} (unset) → 7321")),
        "{stdout}"
    );
    assert!(stdout.contains("worker settings restored"), "{stdout}");

    // Every worker started once with the new value, then once more with its own.
    for ((worker, before), file_before) in workers.iter().zip(logged_before).zip(&files_before) {
        let logged = logged_values(worker.log_file.as_ref().unwrap(), KEY);
        assert_eq!(logged[before..], ["7321", original.as_str()], "{stdout}");
        assert_eq!(
            &std::fs::read_to_string(worker.config_file.as_ref().unwrap()).unwrap(),
            file_before
        );
    }
    let ledger: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path("results/campaign.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ledger["steps"][0]["settings"][format!("worker.{KEY}")],
        "7321",
        "{ledger}"
    );
    assert!(ledger.get("workers_to_restore").is_none(), "{ledger}");
    let result = step_result(&sandbox, &ledger["steps"][0]);
    assert_eq!(
        result["environment"]["worker_settings"][KEY], "7321",
        "{}",
        result["environment"]
    );
    assert!(result["environment"].get("connector_settings").is_none());
}
