//! `kscen new NAME [--lang python|js]`: a plugin project that builds and runs as it is — a scenario
//! crate depending on kscen-sdk (or a `scenario.py` / `scenario.js` with a `build.sh` over the
//! Python or JavaScript SDK), a scenario file with thresholds, a README.

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

/// The language a new scenario is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Language {
    #[default]
    Rust,
    Python,
    Js,
}

/// The componentize-py version the Python SDK is built and tested with.
const COMPONENTIZE_PY: &str = "0.25.1";

/// Writes the project `name` into `dir/name`; returns its folder.
pub fn create(dir: &Path, name: &str, language: Language, sdk: &SdkSource) -> Result<PathBuf> {
    check_name(name)?;
    let project = dir.join(name);
    if project.exists() {
        bail!(
            "{} already exists: choose another name or remove it",
            project.display()
        );
    }
    let files: &[(&str, &str)] = match language {
        Language::Rust => &[
            ("Cargo.toml", include_str!("files/Cargo.toml.in")),
            ("src/lib.rs", include_str!("files/lib.rs.in")),
            ("scenario.toml", include_str!("files/scenario.toml.in")),
            ("README.md", include_str!("files/README.md.in")),
            (".gitignore", include_str!("files/gitignore.in")),
        ],
        Language::Python => &[
            ("scenario.py", include_str!("files/python/scenario.py.in")),
            ("build.sh", include_str!("files/python/build.sh.in")),
            (
                "scenario.toml",
                include_str!("files/python/scenario.toml.in"),
            ),
            ("README.md", include_str!("files/python/README.md.in")),
            (".gitignore", include_str!("files/python/gitignore.in")),
        ],
        Language::Js => &[
            ("scenario.js", include_str!("files/js/scenario.js.in")),
            ("build.sh", include_str!("files/js/build.sh.in")),
            ("scenario.toml", include_str!("files/js/scenario.toml.in")),
            ("README.md", include_str!("files/js/README.md.in")),
            (".gitignore", include_str!("files/js/gitignore.in")),
        ],
    };
    let sdk_dir = match (language, sdk) {
        (Language::Rust, _) => String::new(),
        (_, SdkSource::Path(dir)) => guest_sdk_dir(dir, language)?,
        (_, SdkSource::Git(_)) => bail!(
            "a Python or JavaScript scenario builds with the SDK from a folder: pass --sdk-path \
             <kscen checkout>/sdk, or leave it out for the SDK installed with kscen"
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_file}}", &name.replace('-', "_"))
            .replace("{{class_name}}", &class_name(name))
            .replace("{{sdk_dependency}}", &sdk.dependency())
            .replace("{{sdk_note}}", &sdk.note())
            .replace("{{sdk_dir}}", &sdk_dir)
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
    };
    for (relative, template) in files {
        let path = project.join(relative);
        let parent = path.parent().expect("a file in the project");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        std::fs::write(&path, fill(template))
            .with_context(|| format!("writing {}", path.display()))?;
        if relative.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", path.display()))?;
        }
    }
    Ok(project)
}

/// The SDK folder a Python or JavaScript project builds with (absolute, as its build.sh names
/// it), checked to hold that language's SDK and the WIT.
fn guest_sdk_dir(dir: &Path, language: Language) -> Result<String> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("cannot make {} absolute", dir.display()))?;
    let (sub, lang) = match language {
        Language::Python => ("python", "Python"),
        _ => ("js", "JavaScript"),
    };
    for needed in [dir.join(sub), dir.join("wit").join("scenario@0.5.0")] {
        if !needed.is_dir() {
            bail!(
                "the SDK folder {} has no {} (the {lang} SDK and the WIT it builds against): pass \
                 --sdk-path <kscen checkout>/sdk, or reinstall kscen with `cargo xtask install`",
                dir.display(),
                needed.display()
            );
        }
    }
    Ok(dir.display().to_string())
}

/// `lag-probe` → `LagProbe`: the scenario's class in Python.
fn class_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
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
        let project = create(dir.path(), "lag-probe", Language::Rust, &sdk).unwrap();
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
        let project = create(dir.path(), "gitty", Language::Rust, &sdk).unwrap();
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
            let error = create(dir.path(), bad, Language::Rust, &sdk)
                .unwrap_err()
                .to_string();
            assert!(error.contains("not a usable plugin name"), "{bad}: {error}");
        }
        create(dir.path(), "twice", Language::Rust, &sdk).unwrap();
        let error = create(dir.path(), "twice", Language::Rust, &sdk)
            .unwrap_err()
            .to_string();
        assert!(error.contains("already exists"), "{error}");
    }

    #[test]
    fn python_and_javascript_projects_name_their_sdk_folder_and_class() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = dir.path().join("sdk");
        for sub in ["python", "js", "wit/scenario@0.5.0"] {
            std::fs::create_dir_all(sdk.join(sub)).unwrap();
        }
        let source = SdkSource::Path(sdk.clone());
        let project = create(dir.path(), "lag-probe", Language::Python, &source).unwrap();
        let script = std::fs::read_to_string(project.join("scenario.py")).unwrap();
        assert!(script.contains("class LagProbe(Scenario)"), "{script}");
        let build = std::fs::read_to_string(project.join("build.sh")).unwrap();
        assert!(
            build.contains(&format!("-p '{}/python'", sdk.display())),
            "{build}"
        );
        let scenario = std::fs::read_to_string(project.join("scenario.toml")).unwrap();
        crate::config::scenario::ScenarioFile::parse(&project.join("scenario.toml"), &scenario)
            .unwrap();
        let project = create(dir.path(), "js-probe", Language::Js, &source).unwrap();
        assert!(project.join("scenario.js").is_file());
        let error = create(
            dir.path(),
            "gitty",
            Language::Js,
            &SdkSource::Git("x".into()),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("--sdk-path"), "{error}");
        std::fs::remove_dir_all(sdk.join("python")).unwrap();
        let error = create(dir.path(), "nopy", Language::Python, &source)
            .unwrap_err()
            .to_string();
        assert!(error.contains("Python SDK"), "{error}");
    }
}
