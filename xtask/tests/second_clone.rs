//! Two checkouts sharing one target folder — what a `CARGO_TARGET_DIR` kept outside the clone
//! gives — each get their own checkout worked on: cargo keeps one xtask binary for both, so the
//! checkout must be found at run time, never baked in where xtask was compiled.

use std::path::{Path, PathBuf};
use std::process::Command;

/// This checkout's files as they are in the working tree (tracked and new, not ignored).
fn copy_checkout(to: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files failed");
    for relative in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = PathBuf::from(String::from_utf8_lossy(relative).into_owned());
        let from = root.join(&relative);
        if !from.exists() {
            continue; // deleted in the working tree
        }
        let dest = to.join(&relative);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if from.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &dest).unwrap();
        } else {
            std::fs::copy(&from, &dest).unwrap();
        }
    }
}

/// `cargo xtask paths` run in `dir`, with `CARGO_TARGET_DIR` set to `target` or unset.
fn xtask_paths(dir: &Path, target: Option<&Path>) -> String {
    let mut command = Command::new(env!("CARGO"));
    command.args(["xtask", "paths"]).current_dir(dir);
    match target {
        Some(target) => command.env("CARGO_TARGET_DIR", target),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    let out = command.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo xtask paths in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn line<'a>(paths: &'a str, label: &str) -> &'a str {
    paths
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in {paths:?}"))
}

#[test]
fn each_clone_works_on_itself_and_asks_cargo_for_its_target_folders() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, shared) = (
        dir.path().join("first"),
        dir.path().join("second"),
        dir.path().join("shared-target"),
    );
    copy_checkout(&first);
    copy_checkout(&second);

    // One target folder for both clones: the second reuses the xtask binary the first built.
    for clone in [&first, &second] {
        let paths = xtask_paths(clone, Some(&shared));
        assert_eq!(Path::new(line(&paths, "checkout")), clone.as_path());
        assert_eq!(Path::new(line(&paths, "host target")), shared);
        assert_eq!(Path::new(line(&paths, "plugins target")), shared);
    }

    // Without CARGO_TARGET_DIR, from a subfolder: each workspace has its own `target/`, the
    // plugins' inside `plugins/`. (The host's `target/` links to the shared folder only so that
    // xtask is not compiled once more.)
    std::os::unix::fs::symlink(&shared, second.join("target")).unwrap();
    let paths = xtask_paths(&second.join("host").join("src"), None);
    assert_eq!(Path::new(line(&paths, "checkout")), second);
    assert_eq!(
        Path::new(line(&paths, "host target")),
        second.join("target")
    );
    assert_eq!(
        Path::new(line(&paths, "plugins target")),
        second.join("plugins").join("target")
    );
}
