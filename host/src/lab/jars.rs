//! Java, Maven and the Kafka jars: the lab runs Apache Kafka's own jars from Maven Central,
//! resolved once per version into `~/.cache/kscen/lab/kafka-<version>/{libs,agent}`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use super::topology::cache_root;

/// Where the jars of one Kafka version live.
#[derive(Debug, Clone)]
pub struct Libs {
    /// Classpath folder (`-cp '<libs>/*'`).
    pub libs: PathBuf,
    /// The Prometheus JMX exporter javaagent jar.
    pub agent_jar: PathBuf,
    /// The SLF4J binding resolved into `libs`.
    pub logging: Logging,
}

/// How a Kafka version logs: 3.x through reload4j (log4j 1.2), 4.x through Log4j 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    Reload4j,
    Log4j2,
}

impl Logging {
    /// The logging of Kafka `version` (`3.7.2`, `4.3.1`).
    pub fn of(version: &str) -> Result<Logging> {
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .with_context(|| format!("--kafka-version {version:?} is not a version like 3.7.2"))?;
        match major {
            3 => Ok(Logging::Reload4j),
            m if m >= 4 => Ok(Logging::Log4j2),
            _ => bail!("--kafka-version {version}: the lab runs Kafka 3.x (KRaft) and newer"),
        }
    }

    /// The configuration file every lab JVM gets, in its process folder.
    pub fn config_file(self) -> &'static str {
        match self {
            Logging::Reload4j => "log4j.properties",
            Logging::Log4j2 => "log4j2.properties",
        }
    }

    /// The JVM option that points the logging at `config` (absolute).
    pub fn jvm_option(self, config: &Path) -> String {
        match self {
            Logging::Reload4j => format!("-Dlog4j.configuration=file:{}", config.display()),
            Logging::Log4j2 => format!("-Dlog4j2.configurationFile={}", config.display()),
        }
    }

    /// The jar of the SLF4J binding, as Maven names it in `libs`.
    fn binding_jar_prefix(self) -> &'static str {
        match self {
            Logging::Reload4j => "slf4j-reload4j-",
            Logging::Log4j2 => "log4j-slf4j-impl-",
        }
    }

    /// lab/pom.xml's profile (`-Dlab.logging=`); reload4j is the one without the property.
    fn maven_property(self) -> Option<&'static str> {
        match self {
            Logging::Reload4j => None,
            Logging::Log4j2 => Some("-Dlab.logging=log4j2"),
        }
    }
}

/// Absolute path of a Java 17+ `java`, checked with `java -version`.
pub fn check_java() -> Result<PathBuf> {
    let java = match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").is_file() => {
            Path::new(&home).join("bin/java")
        }
        _ => which("java").context(
            "Java not found: the lab runs Apache Kafka on a JVM. Install Java 17 or newer \
             (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME",
        )?,
    };
    let out = std::process::Command::new(&java)
        .arg("-version")
        .output()
        .with_context(|| format!("running `{} -version`", java.display()))?;
    // `java -version` prints to stderr: `openjdk version "17.0.15" 2025-04-15`.
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let major = parse_java_major(&text).with_context(|| {
        format!(
            "cannot read the Java version from `{} -version`: {}",
            java.display(),
            text.trim()
        )
    })?;
    if major < 17 {
        bail!(
            "{} is Java {major}; Kafka 3.7 Connect and the lab need Java 17 or newer. Install it \
             (e.g. `apt-get install openjdk-17-jre-headless`) and put it first on PATH or set JAVA_HOME",
            java.display()
        );
    }
    Ok(java)
}

/// The JDK's `keytool` beside `java`, also when `java` is a link (/usr/bin/java →
/// /usr/lib/jvm/<jdk>/bin/java): the secure lab makes its certificates with it.
pub fn keytool(java: &Path) -> Result<PathBuf> {
    let resolved = std::fs::canonicalize(java).unwrap_or_else(|_| java.to_path_buf());
    let found = [java, resolved.as_path()]
        .into_iter()
        .map(|j| j.with_file_name("keytool"))
        .find(|k| k.is_file());
    found.with_context(|| {
        format!(
            "keytool not found beside {} ({}): the secure lab makes its TLS certificates \
                 with it. Every JDK and JRE ships it (e.g. `apt-get install \
                 openjdk-17-jre-headless`)",
            java.display(),
            resolved.display()
        )
    })
}

fn parse_java_major(text: &str) -> Option<u32> {
    let quoted = text.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '-', '+', '_']);
    let first: u32 = parts.next()?.parse().ok()?;
    // Java 8 and older report `1.8.0_...`.
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(prog))
            .find(|p| p.is_file())
    })
}

/// `lab/pom.xml`, searched relative to the current directory, then the enclosing git repository's
/// root, then `$KSCEN_LAB_DIR` (a folder holding pom.xml), then the source tree kscen was built from.
pub fn find_pom() -> Result<PathBuf> {
    let mut tried = Vec::new();
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut candidates = vec![cwd.join("lab/pom.xml")];
    if let Some(root) = cwd.ancestors().find(|d| d.join(".git").exists()) {
        candidates.push(root.join("lab/pom.xml"));
    }
    if let Some(dir) = std::env::var_os("KSCEN_LAB_DIR") {
        let dir = PathBuf::from(dir);
        candidates.push(if dir.extension().is_some_and(|e| e == "xml") {
            dir
        } else {
            dir.join("pom.xml")
        });
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../lab/pom.xml"));
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    bail!(
        "cannot find the lab's Maven pom (tried {}). Run kscen from the kscen repository, or set \
         KSCEN_LAB_DIR to the folder holding the repository's lab/pom.xml",
        tried.join(", ")
    )
}

/// Resolves the jars of `version` unless already cached; returns their location.
pub async fn ensure_jars(version: &str) -> Result<Libs> {
    let root = cache_root()?.join(format!("kafka-{version}"));
    let libs = Libs {
        libs: root.join("libs"),
        agent_jar: root.join("agent/jmx_prometheus_javaagent.jar"),
        logging: Logging::of(version)?,
    };
    // The marker is written last, so an interrupted resolution is redone rather than half-used.
    let marker = root.join(".resolved");
    let binding = std::fs::read_dir(&libs.libs).is_ok_and(|mut jars| {
        jars.any(|jar| {
            jar.is_ok_and(|jar| {
                let name = jar.file_name();
                name.to_string_lossy()
                    .starts_with(libs.logging.binding_jar_prefix())
            })
        })
    });
    if marker.is_file() && libs.agent_jar.is_file() && binding {
        return Ok(libs);
    }
    if marker.is_file() && !binding {
        // Resolved by a pom without this version's logging binding (an older kscen): start over,
        // or the old binding would stay beside the new one.
        println!(
            "{} lacks the {:?} logging binding of Kafka {version}: resolving again",
            libs.libs.display(),
            libs.logging
        );
        std::fs::remove_dir_all(&root).with_context(|| format!("removing {}", root.display()))?;
    }
    let pom = find_pom()?;
    let mvn = which("mvn").context(
        "Maven (`mvn`) not found: the lab resolves Apache Kafka's jars from Maven Central with it. \
         Install Maven 3.6+ (e.g. `apt-get install maven`)",
    )?;
    println!(
        "resolving Apache Kafka {version} jars from Maven Central into {} (first use of this version)...",
        root.display()
    );
    let started = std::time::Instant::now();
    let out = Command::new(&mvn)
        .arg("-B")
        .arg("-q")
        .arg("-f")
        .arg(&pom)
        .arg("dependency:copy-dependencies@libs")
        .arg("dependency:copy-dependencies@agent")
        .arg(format!("-Dkafka.version={version}"))
        .args(libs.logging.maven_property())
        .arg(format!("-Dlab.libs={}", libs.libs.display()))
        .arg(format!("-Dlab.agent={}", root.join("agent").display()))
        .output()
        .await
        .with_context(|| format!("running {}", mvn.display()))?;
    if !out.status.success() {
        let text = strip_ansi(
            &(String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr)),
        );
        // Maven's generic "re-run with -e / see the wiki" footer says nothing about the cause.
        let tail: Vec<&str> = text
            .lines()
            .filter(|l| {
                let l = l.trim_start_matches("[ERROR]").trim();
                !(l.is_empty()
                    || l.starts_with("To see the full stack")
                    || l.starts_with("Re-run Maven")
                    || l.starts_with("For more information")
                    || l.starts_with("[Help"))
            })
            .rev()
            .take(25)
            .collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "Maven could not resolve Apache Kafka {version} (pom {}):\n{}\n\
             Check that Maven Central is reachable and that the version exists \
             (e.g. --kafka-version {})",
            pom.display(),
            tail.join("\n"),
            super::DEFAULT_KAFKA_VERSION
        );
    }
    let kafka_jar = libs.libs.join(format!("kafka_2.13-{version}.jar"));
    if !kafka_jar.is_file() || !libs.agent_jar.is_file() {
        bail!(
            "Maven finished but {} or {} is missing; delete {} and retry",
            kafka_jar.display(),
            libs.agent_jar.display(),
            root.display()
        );
    }
    std::fs::write(&marker, format!("resolved from {}\n", pom.display()))
        .with_context(|| format!("writing {}", marker.display()))?;
    println!("jars resolved in {:.1}s", started.elapsed().as_secs_f64());
    Ok(libs)
}

/// Removes ANSI colour sequences (Maven's jansi emits resets even in batch mode).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ params letter
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_java_major, strip_ansi, Logging};

    #[test]
    fn kafka_4_logs_through_log4j2() {
        assert_eq!(Logging::of("3.7.2").unwrap(), Logging::Reload4j);
        assert_eq!(Logging::of("3.9.1").unwrap(), Logging::Reload4j);
        assert_eq!(Logging::of("4.1.2").unwrap(), Logging::Log4j2);
        assert_eq!(Logging::of("4.3.1").unwrap(), Logging::Log4j2);
        assert!(Logging::of("2.8.2").is_err());
        assert!(Logging::of("latest").is_err());
        assert_eq!(
            Logging::Log4j2.jvm_option(std::path::Path::new("/s/w/log4j2.properties")),
            "-Dlog4j2.configurationFile=/s/w/log4j2.properties"
        );
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\u{1b}[0m[ERROR] x\u{1b}[0m"), "[ERROR] x");
    }

    #[test]
    fn java_versions() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_402\""), Some(8));
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("garbage"), None);
    }
}
