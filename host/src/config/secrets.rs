//! Secret references in profiles: a value written `${env:NAME}` or `${file:/path}` is read from
//! the environment or a file when the profile loads, so credentials stay out of profile files.
//! Resolved values live only in the host's client configurations: never in plugins, logs,
//! results or reports.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// The value itself, or what its reference points to. `key` names the setting in errors.
pub fn resolve(value: &str, key: &str) -> Result<String> {
    let Some(reference) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return Ok(value.to_string());
    };
    match reference.split_once(':') {
        Some(("env", name)) => std::env::var(name).with_context(|| {
            format!("{key}: environment variable {name} is not set (the profile reads it with ${{env:{name}}})")
        }),
        Some(("file", path)) => {
            let text = std::fs::read_to_string(Path::new(path))
                .with_context(|| format!("{key}: cannot read secret file {path}"))?;
            // Files written by `echo` end with a newline that is not part of the secret.
            Ok(text.trim_end_matches(['\n', '\r']).to_string())
        }
        _ => bail!("{key}: {value:?} is not a secret reference; write ${{env:NAME}} or ${{file:/path}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_pass_through() {
        assert_eq!(resolve("SASL_SSL", "k").unwrap(), "SASL_SSL");
        assert_eq!(
            resolve("$NOT_A_REFERENCE", "k").unwrap(),
            "$NOT_A_REFERENCE"
        );
    }

    #[test]
    fn environment_and_file_references_are_read() {
        std::env::set_var("KSCEN_TEST_SECRET", "s3cret");
        assert_eq!(resolve("${env:KSCEN_TEST_SECRET}", "k").unwrap(), "s3cret");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "from-file\n").unwrap();
        let reference = format!("${{file:{}}}", file.display());
        assert_eq!(resolve(&reference, "k").unwrap(), "from-file");
    }

    #[test]
    fn missing_secrets_name_the_setting_not_the_value() {
        let error = format!(
            "{:#}",
            resolve(
                "${env:KSCEN_SURELY_UNSET}",
                "clusters.source.properties.sasl.password"
            )
            .unwrap_err()
        );
        assert!(
            error.contains("clusters.source.properties.sasl.password"),
            "{error}"
        );
        assert!(error.contains("KSCEN_SURELY_UNSET is not set"), "{error}");
        let error = format!("{:#}", resolve("${vault:x}", "k").unwrap_err());
        assert!(error.contains("not a secret reference"), "{error}");
        assert!(resolve("${file:/nonexistent/secret}", "k").is_err());
    }
}
