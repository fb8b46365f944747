//! `kscen new NAME`: a plugin project that builds and runs as it is — a scenario crate depending
//! on kscen-sdk, a scenario file with thresholds, a README.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where the new project takes kscen-sdk from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A kscen-sdk crate folder: the one installed with kscen, or a checkout's `sdk/`.
    Path(PathBuf),
    /// A git repository holding kscen (cargo finds the crate in it by name).
    Git(String),
}

impl SdkSource {
    fn dependency(&self) -> String {
        match self {
            SdkSource::Path(path) => format!(
                "kscen-sdk = {{ path = {} }}",
                toml_string(&path.display().to_string())
            ),
            SdkSource::Git(url) => format!("kscen-sdk = {{ git = {} }}", toml_string(url)),
        }
    }

    fn note(&self) -> String {
        match self {
            SdkSource::Path(path) => format!(
                "`kscen-sdk` comes from {} (the copy installed with kscen); to follow a kscen \
                 repository instead, write `kscen-sdk = {{ git = \"<its URL>\" }}` in Cargo.toml.",
                path.display()
            ),
            SdkSource::Git(url) => format!("`kscen-sdk` comes from {url}."),
        }
    }
}

/// Writes the project `name` into `dir/name`; returns its folder.
pub fn create(dir: &Path, name: &str, sdk: &SdkSource) -> Result<PathBuf> {
    check_name(name)?;
    let project = dir.join(name);
    if project.exists() {
        bail!(
            "{} already exists: choose another name or remove it",
            project.display()
        );
    }
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_file}}", &name.replace('-', "_"))
            .replace("{{sdk_dependency}}", &sdk.dependency())
            .replace("{{sdk_note}}", &sdk.note())
    };
    let files = [
        ("Cargo.toml", include_str!("files/Cargo.toml.in")),
        ("src/lib.rs", include_str!("files/lib.rs.in")),
        ("scenario.toml", include_str!("files/scenario.toml.in")),
        ("README.md", include_str!("files/README.md.in")),
        (".gitignore", include_str!("files/gitignore.in")),
    ];
    for (relative, template) in files {
        let path = project.join(relative);
        let parent = path.parent().expect("a file in the project");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        std::fs::write(&path, fill(template))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(project)
}

/// The SDK a new project uses unless told otherwise: the one installed with kscen.
pub fn default_sdk() -> Result<SdkSource> {
    match crate::bundle::sdk_dir() {
        Some(dir) => Ok(SdkSource::Path(dir)),
        None => bail!(
            "this kscen has no SDK installed beside it (a development build): pass --sdk-path \
             <kscen checkout>/sdk or --sdk-git <URL>, or install kscen with `cargo xtask install`"
        ),
    }
}

/// A crate name cargo accepts, which also names the plugin and its `.wasm`.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} is not a usable plugin name: start with a lowercase letter, then lowercase \
             letters, digits, '-' or '_' (it names the crate, the plugin and its .wasm)"
        );
    }
    Ok(())
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_names_its_plugin_file_and_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = SdkSource::Path(PathBuf::from("/opt/kscen/share/kscen/sdk"));
        let project = create(dir.path(), "lag-probe", &sdk).unwrap();
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"lag-probe\""), "{manifest}");
        assert!(
            manifest.contains(r#"kscen-sdk = { path = "/opt/kscen/share/kscen/sdk" }"#),
            "{manifest}"
        );
        let scenario = std::fs::read_to_string(project.join("scenario.toml")).unwrap();
        assert!(
            scenario.contains("target/wasm32-wasip2/release/lag_probe.wasm"),
            "{scenario}"
        );
        // The scenario file parses as kscen reads it.
        let parsed =
            crate::config::scenario::ScenarioFile::parse(&project.join("scenario.toml"), &scenario)
                .unwrap();
        assert!(!parsed.thresholds.is_empty());
        assert!(project.join("src/lib.rs").is_file());
    }

    #[test]
    fn a_git_sdk_is_a_git_dependency() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = SdkSource::Git("https://example.org/kscen.git".into());
        let project = create(dir.path(), "gitty", &sdk).unwrap();
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(r#"kscen-sdk = { git = "https://example.org/kscen.git" }"#),
            "{manifest}"
        );
    }

    #[test]
    fn bad_names_and_existing_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = SdkSource::Git("x".into());
        for bad in ["", "Hello", "1st", "my plugin", "a/b", "../up"] {
            let error = create(dir.path(), bad, &sdk).unwrap_err().to_string();
            assert!(error.contains("not a usable plugin name"), "{bad}: {error}");
        }
        create(dir.path(), "twice", &sdk).unwrap();
        let error = create(dir.path(), "twice", &sdk).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
    }
}
