//! A campaign matrix over a MirrorMaker 2 connector setting on the real lab: each cell puts
//! `tasks.max` through Connect's REST API, runs, and puts the configuration back, so the source
//! connector's configuration after the campaign equals the one before. Set `KSCEN_LAB_PROFILE`.

mod support;

use kscen::config::profile::Profile;
use kscen::connect::ConnectClient;
use kscen::deployment::mirrors::Role;
use support::{lab_profile_from, Sandbox};

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_max_matrix_is_applied_per_cell_and_restored() {
    let Some(profile_path) = lab_profile_from("KSCEN_LAB_PROFILE", "lab") else {
        return;
    };
    let profile_arg = profile_path.display().to_string();
    let profile = Profile::load(&profile_arg).unwrap();
    let mirrors = kscen::deployment::mirrors(&profile_arg, &profile)
        .await
        .unwrap();
    let source = mirrors[0].connector(Role::Source).unwrap().name.clone();
    let client = ConnectClient::from_profile(&profile).unwrap().unwrap();
    let before = client.config(&source).await.unwrap();

    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("steady.toml"),
        "plugin = \"steady\"\n[params]\nduration = \"3s\"\nrate = 200\n",
    )
    .unwrap();
    std::fs::write(
        sandbox.path("plan.toml"),
        r#"
name = "tasks.max"
results = "results"

[[step]]
name = "tasks"
scenario = "steady.toml"
matrix = { "connector.source.tasks.max" = [1, 4] }
"#,
    )
    .unwrap();
    let mut command = sandbox.command(&["campaign", "run", "plan.toml", "--profile", &profile_arg]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

    let after = client.config(&source).await.unwrap();
    assert_eq!(
        after, before,
        "the source connector's configuration changed"
    );
}
