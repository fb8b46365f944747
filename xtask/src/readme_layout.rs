//! The README's "Layout" block is the map a newcomer reads first: it must name every folder of
//! the checkout and every module of the host, so a new one cannot land unmapped.

use std::path::Path;

/// The fenced block under `## Layout`.
fn layout_block(readme: &str) -> &str {
    let start = readme
        .find("## Layout\n```\n")
        .expect("README.md has a `## Layout` section opening with a code block");
    let body = &readme[start + "## Layout\n```\n".len()..];
    &body[..body.find("```").expect("the Layout code block is closed")]
}

/// Entry names in `dir` (hidden ones when `hidden`), sorted, skipping what git ignores here.
fn entries(dir: &Path, hidden: bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| hidden || !name.starts_with('.'))
        .filter(|name| !matches!(name.as_str(), "target" | ".git" | ".cargo"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_readme_layout_names_every_top_level_folder_and_host_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let layout = layout_block(&readme);
    let listed = |entry: &str| {
        layout
            .lines()
            .any(|line| line.trim_start().starts_with(entry))
    };

    let mut missing = Vec::new();
    for name in entries(root, true) {
        if root.join(&name).is_dir() && !listed(&format!("{name}/")) {
            missing.push(format!("{name}/"));
        }
    }
    for name in entries(&root.join("host"), false) {
        let path = root.join("host").join(&name);
        if path.is_dir() && name != "src" && !layout.contains(&format!("{name}/")) {
            missing.push(format!("host/{name}/"));
        }
    }
    for name in entries(&root.join("host/src"), false) {
        if matches!(name.as_str(), "lib.rs" | "main.rs") {
            continue;
        }
        let entry = format!("src/{}", name.trim_end_matches('/'));
        if !listed(&format!("{entry} ")) {
            missing.push(format!("host/{entry}"));
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's Layout does not name {missing:?}: add a line saying what each holds"
    );
}
