//! `kscen compare` on real runs (the embedded mock cluster): two repetitions at 2 000 msg/s
//! against two at 4 000 — the rate change is beyond noise, the latency percentiles are read and
//! judged, and the Markdown table is written.

mod support;

use support::Sandbox;

#[test]
fn a_rate_change_across_repetitions_is_beyond_noise() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path("steady.toml"),
        "plugin = \"steady\"\n[params]\nduration = \"2s\"\n",
    )
    .unwrap();
    let mut sides = (Vec::new(), Vec::new());
    for repetition in 1..=2 {
        for (rate, side) in [(2000, &mut sides.0), (4000, &mut sides.1)] {
            let json = format!("r{rate}-{repetition}.json");
            sandbox.ok(&[
                "run",
                "steady.toml",
                "--set",
                &format!("rate={rate}"),
                "--json",
                &json,
            ]);
            side.push(json);
        }
    }
    let mut args = vec!["compare", "--baseline"];
    args.extend(sides.0.iter().map(String::as_str));
    args.push("--candidate");
    args.extend(sides.1.iter().map(String::as_str));
    args.extend(["--markdown", "comparison.md"]);
    let table = sandbox.ok(&args);
    let achieved = table
        .lines()
        .find(|l| l.starts_with("[nominal] achieved_rate"))
        .unwrap_or_else(|| panic!("{table}"));
    // The rates achieved depend on the machine; that doubling the target roughly doubles them
    // and the sides' ranges part does not.
    let change: f64 = achieved.split_whitespace().nth(6).unwrap().parse().unwrap();
    assert!((90.0..=110.0).contains(&change), "{achieved}");
    assert!(achieved.contains("beyond noise (runs"), "{achieved}");
    let p99 = table
        .lines()
        .find(|l| l.starts_with("[nominal] corrected.p99"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(p99.contains(" noise (runs "), "{p99}");
    let markdown = std::fs::read_to_string(sandbox.path("comparison.md")).unwrap();
    assert!(
        markdown.contains("| [nominal] achieved_rate |"),
        "{markdown}"
    );

    // Mixed up sides are refused with the file named.
    let missing = sandbox.refused(&[
        "compare",
        "--baseline",
        "nope.json",
        "--candidate",
        "r4000-1.json",
    ]);
    assert!(
        missing.contains("cannot read result nope.json"),
        "{missing}"
    );
}
