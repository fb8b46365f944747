//! The secure lab (`kscen lab up --secure`): TLS material made once per state folder with the
//! JDK's `keytool` (a CA, a server key pair it signs for `127.0.0.1`/`localhost`, PKCS12 stores for
//! the JVMs, the CA as PEM for kscen), random passwords for the SCRAM users and the stores, and the
//! settings that put the brokers, the workers, MirrorMaker 2 and kscen's own clients on SASL_SSL
//! with SCRAM-SHA-512, and the Connect REST API on HTTPS with Basic auth.
//!
//! No generated config, profile or start.sh holds a password: the JVMs read theirs through Kafka's
//! `FileConfigProvider` from `<state>/secrets/kafka.properties`, kscen through `${file:…}`
//! references to `<state>/secrets/<user>.password`. Secrets are mode 0600 in 0700 folders.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::topology::Topology;

pub const SCRAM_MECHANISM: &str = "SCRAM-SHA-512";
/// kscen's own clients (the profile, readiness, status) and the Connect REST Basic auth user.
pub const KSCEN_USER: &str = "kscen";
/// The Connect workers and MirrorMaker 2.
pub const CONNECT_USER: &str = "connect";
/// Inter-broker traffic: a single-node broker still connects to itself (e.g. transaction markers).
pub const BROKER_USER: &str = "broker";
pub const SCRAM_USERS: [&str; 3] = [KSCEN_USER, CONNECT_USER, BROKER_USER];
/// The secret of the Connect REST Basic auth user `kscen`: `<state>/secrets/connect-rest.password`.
const CONNECT_REST_SECRET: &str = "connect-rest";

/// librdkafka properties (`key`, `value`) of kscen's own clients of the lab.
pub type KafkaProperties = Vec<(&'static str, String)>;

/// The broker's direct listener in a secure lab (`PLAINTEXT` in the plain one); its name is its
/// protocol, as in the plain lab.
pub const DIRECT_LISTENER: &str = "SASL_SSL";

const FILE_CONFIG_PROVIDER: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
const PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";

// Files of the TLS folder.
const CA_KEYSTORE: &str = "ca.p12";
const CA_PEM: &str = "ca.pem";
const KEYSTORE: &str = "server.p12";
const TRUSTSTORE: &str = "truststore.p12";
const KEYSTORE_PASSWORD: &str = "keystore.password";
const TRUSTSTORE_PASSWORD: &str = "truststore.password";
const SERVER_CSR: &str = "server.csr";
const SERVER_CERT: &str = "server.pem";

/// Every process of the lab listens on loopback only: the one name its certificate needs, plus
/// `localhost` for tools that connect by name. Hostname verification stays on everywhere.
const SERVER_SAN: &str = "san=ip:127.0.0.1,dns:localhost";

/// The keytool runs that make the TLS folder, in order, one per line. They run in that folder and
/// read every password from its file (`-storepass:file`), never from the command line.
fn keytool_steps() -> [String; 8] {
    let key = "-keyalg RSA -keysize 2048 -validity 3650 -storetype PKCS12";
    let ca = format!("-alias ca -keystore {CA_KEYSTORE} -storepass:file {KEYSTORE_PASSWORD}");
    let server = format!("-alias server -keystore {KEYSTORE} -storepass:file {KEYSTORE_PASSWORD}");
    [
        // `bc:c` makes the CA a v3 certificate with basicConstraints CA:true, which rustls needs.
        format!("-genkeypair {ca} {key} -dname CN=kscen-lab-CA,O=kscen -ext bc:c"),
        format!("-genkeypair {server} {key} -dname CN=localhost,O=kscen"),
        format!("-certreq {server} -file {SERVER_CSR}"),
        format!(
            "-gencert {ca} -infile {SERVER_CSR} -outfile {SERVER_CERT} -rfc -validity 3650 \
             -ext {SERVER_SAN} -ext eku=serverAuth,clientAuth"
        ),
        format!("-exportcert {ca} -rfc -file {CA_PEM}"),
        // keytool installs a certificate reply only once it chains to a trusted certificate.
        format!(
            "-importcert -alias ca -file {CA_PEM} -keystore {KEYSTORE} \
             -storepass:file {KEYSTORE_PASSWORD} -noprompt"
        ),
        format!("-importcert {server} -file {SERVER_CERT} -noprompt"),
        format!(
            "-importcert -alias ca -file {CA_PEM} -storetype PKCS12 -keystore {TRUSTSTORE} \
             -storepass:file {TRUSTSTORE_PASSWORD} -noprompt"
        ),
    ]
}

/// Where a secure lab keeps its TLS material (`<state>/tls`) and passwords (`<state>/secrets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    tls: PathBuf,
    secrets: PathBuf,
}

impl Security {
    pub fn new(state: &Path) -> Self {
        Security {
            tls: state.join("tls"),
            secrets: state.join("secrets"),
        }
    }

    /// The CA certificate (PEM) that kscen trusts: librdkafka's `ssl.ca.location`, reqwest's root.
    pub fn ca_pem(&self) -> PathBuf {
        self.tls.join(CA_PEM)
    }

    pub fn secrets_dir(&self) -> &Path {
        &self.secrets
    }

    /// The password of a SCRAM user, or of `connect-rest`; no trailing newline.
    pub fn password_file(&self, name: &str) -> PathBuf {
        self.secrets.join(format!("{name}.password"))
    }

    /// The Connect REST password of the Basic auth user `kscen`.
    pub fn rest_password_file(&self) -> PathBuf {
        self.password_file(CONNECT_REST_SECRET)
    }

    /// The properties file the JVMs' `FileConfigProvider` reads their passwords from.
    fn provider_file(&self) -> PathBuf {
        self.secrets.join("kafka.properties")
    }

    /// `user=password` lines for the REST extension's `PropertyFileLoginModule`.
    fn rest_credentials_file(&self) -> PathBuf {
        self.secrets.join("connect-rest.credentials")
    }

    /// The JAAS file that points the REST extension at the credentials.
    fn rest_jaas_file(&self) -> PathBuf {
        self.secrets.join("connect-rest.jaas")
    }

    /// A value the JVM resolves from the provider file when it loads its config.
    fn reference(&self, key: &str) -> String {
        format!("${{file:{}:{key}}}", self.provider_file().display())
    }

    /// Makes what is missing: passwords, then the TLS folder (keytool, a few seconds, once per
    /// state folder), then the files derived from the passwords. `formatted`: a broker's storage
    /// already holds the SCRAM users, so a lost password cannot be made anew.
    pub async fn prepare(&self, keytool: &Path, formatted: bool) -> Result<()> {
        self.ensure_passwords(formatted)?;
        self.ensure_tls(keytool).await?;
        self.write_derived_files()
    }

    fn ensure_passwords(&self, formatted: bool) -> Result<()> {
        create_private_dir(&self.secrets)?;
        for name in SCRAM_USERS.into_iter().chain([CONNECT_REST_SECRET]) {
            let file = self.password_file(name);
            if file.is_file() {
                continue;
            }
            if formatted && name != CONNECT_REST_SECRET {
                bail!(
                    "{} is missing, but the brokers' storage already holds the SCRAM user \
                     {name:?} with the lost password; `kscen lab down --purge` then \
                     `kscen lab up --secure` to start over",
                    file.display()
                );
            }
            write_private(&file, &random_secret()?)?;
        }
        Ok(())
    }

    /// The TLS folder is made complete in `tls.partial`, then renamed: a `tls` folder that exists
    /// is whole, and an interrupted run starts over.
    async fn ensure_tls(&self, keytool: &Path) -> Result<()> {
        if self.tls.is_dir() {
            return Ok(());
        }
        let partial = self.tls.with_extension("partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("removing the unfinished {}", partial.display()))?;
        }
        create_private_dir(&partial)?;
        write_private(&partial.join(KEYSTORE_PASSWORD), &random_secret()?)?;
        write_private(&partial.join(TRUSTSTORE_PASSWORD), &random_secret()?)?;
        let started = std::time::Instant::now();
        for step in keytool_steps() {
            run_keytool(keytool, &partial, &step).await?;
        }
        std::fs::remove_file(partial.join(SERVER_CSR))
            .with_context(|| format!("removing {}", partial.join(SERVER_CSR).display()))?;
        for file in [CA_KEYSTORE, KEYSTORE, TRUSTSTORE] {
            restrict(&partial.join(file), 0o600)?;
        }
        std::fs::rename(&partial, &self.tls)
            .with_context(|| format!("renaming {} to {}", partial.display(), self.tls.display()))?;
        println!(
            "TLS material made in {:.1}s: CA {}, server certificate for 127.0.0.1/localhost",
            started.elapsed().as_secs_f64(),
            self.ca_pem().display()
        );
        Ok(())
    }

    /// The provider file, the REST credentials and the JAAS file, rewritten from the passwords.
    fn write_derived_files(&self) -> Result<()> {
        let keystore = read_secret(&self.tls.join(KEYSTORE_PASSWORD))?;
        let truststore = read_secret(&self.tls.join(TRUSTSTORE_PASSWORD))?;
        let broker = read_secret(&self.password_file(BROKER_USER))?;
        let connect = read_secret(&self.password_file(CONNECT_USER))?;
        write_private(
            &self.provider_file(),
            &format!(
                "# generated by `kscen lab up --secure`: read by Kafka's FileConfigProvider\n\
                 keystore.password={keystore}\n\
                 truststore.password={truststore}\n\
                 {BROKER_USER}.password={broker}\n\
                 {CONNECT_USER}.password={connect}\n"
            ),
        )?;
        let rest = read_secret(&self.rest_password_file())?;
        write_private(
            &self.rest_credentials_file(),
            &format!("{KSCEN_USER}={rest}\n"),
        )?;
        write_private(
            &self.rest_jaas_file(),
            &format!(
                "KafkaConnect {{\n  {PROPERTY_FILE_LOGIN_MODULE} required\n  file=\"{}\";\n}};\n",
                self.rest_credentials_file().display()
            ),
        )
    }

    /// `kafka-storage format` arguments that create every SCRAM user with its password.
    pub fn scram_arguments(&self) -> Result<Vec<String>> {
        let mut args = Vec::new();
        for user in SCRAM_USERS {
            let password = read_secret(&self.password_file(user))?;
            args.push("--add-scram".to_string());
            args.push(format!(
                "{SCRAM_MECHANISM}=[name={user},password={password}]"
            ));
        }
        Ok(args)
    }

    /// JVM option of the Connect workers: the JAAS file of the REST Basic auth extension.
    pub fn rest_jaas_option(&self) -> String {
        format!(
            "-Djava.security.auth.login.config={}",
            self.rest_jaas_file().display()
        )
    }

    /// Appended to server.properties: SCRAM on both SASL_SSL listeners (`DIRECT_LISTENER` and
    /// `PROXIED`), the keystore that serves TLS, and the truststore of the inter-broker client.
    pub fn broker_settings(&self) -> String {
        let direct = DIRECT_LISTENER.to_lowercase();
        format!(
            "# secure lab: SCRAM-SHA-512 on both SASL_SSL listeners (users kscen, connect, broker,\n\
             # created at format time); passwords come from {provider} through the FileConfigProvider\n\
             config.providers=file\n\
             config.providers.file.class={FILE_CONFIG_PROVIDER}\n\
             sasl.enabled.mechanisms={SCRAM_MECHANISM}\n\
             sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}\n\
             # the inter-broker client logs in as `{BROKER_USER}`; on the server side only the module counts\n\
             listener.name.{direct}.scram-sha-512.sasl.jaas.config={broker_login}\n\
             listener.name.proxied.scram-sha-512.sasl.jaas.config={SCRAM_LOGIN_MODULE} required;\n\
             ssl.keystore.type=PKCS12\n\
             ssl.keystore.location={keystore}\n\
             ssl.keystore.password={keystore_password}\n\
             {truststore}",
            provider = self.provider_file().display(),
            broker_login = self.scram_login(BROKER_USER),
            keystore = self.tls.join(KEYSTORE).display(),
            keystore_password = self.reference("keystore.password"),
            truststore = properties(&self.truststore_settings("")),
        )
    }

    /// Appended to worker.properties: the worker's clients (group membership, internal topics,
    /// MM2's producer) on SASL_SSL as `connect`, the REST server on HTTPS with Basic auth.
    pub fn worker_settings(&self) -> String {
        let mut clients = String::new();
        for prefix in ["", "producer.", "consumer.", "admin."] {
            clients.push_str(&properties(
                &self.java_client_settings(prefix, CONNECT_USER),
            ));
        }
        format!(
            "# secure lab: passwords come from {provider} through the FileConfigProvider (also for\n\
             # the connector configs, which keep their ${{file:…}} references in the REST API)\n\
             config.providers=file\n\
             config.providers.file.class={FILE_CONFIG_PROVIDER}\n\
             # SASL_SSL as `{CONNECT_USER}` for the worker and the clients it makes for connectors\n\
             {clients}\
             # HTTPS with the lab's server certificate; the worker's REST client (forwarding to the\n\
             # leader) takes the listeners.https.* settings too, all or nothing\n\
             listeners.https.ssl.keystore.type=PKCS12\n\
             listeners.https.ssl.keystore.location={keystore}\n\
             listeners.https.ssl.keystore.password={keystore_password}\n\
             {truststore}\
             # Basic auth: users in {credentials}, through the JAAS file given with\n\
             # -Djava.security.auth.login.config in start.sh\n\
             rest.extension.classes={BASIC_AUTH_EXTENSION}\n",
            provider = self.provider_file().display(),
            keystore = self.tls.join(KEYSTORE).display(),
            keystore_password = self.reference("keystore.password"),
            truststore = properties(&self.truststore_settings("listeners.https.")),
            credentials = self.rest_credentials_file().display(),
        )
    }

    /// The MM2 connectors' `source.cluster.*` / `target.cluster.*` security settings, as user
    /// `connect`; the worker resolves their `${file:…}` references when it starts the connector.
    pub fn connector_settings(&self) -> Vec<(String, String)> {
        ["source.cluster.", "target.cluster."]
            .into_iter()
            .flat_map(|prefix| self.java_client_settings(prefix, CONNECT_USER))
            .collect()
    }

    /// A Java client's SASL_SSL settings under `prefix`.
    fn java_client_settings(&self, prefix: &str, user: &str) -> Vec<(String, String)> {
        let mut settings = vec![
            (format!("{prefix}security.protocol"), "SASL_SSL".to_string()),
            (
                format!("{prefix}sasl.mechanism"),
                SCRAM_MECHANISM.to_string(),
            ),
            (format!("{prefix}sasl.jaas.config"), self.scram_login(user)),
        ];
        settings.extend(self.truststore_settings(prefix));
        settings
    }

    fn truststore_settings(&self, prefix: &str) -> Vec<(String, String)> {
        vec![
            (format!("{prefix}ssl.truststore.type"), "PKCS12".to_string()),
            (
                format!("{prefix}ssl.truststore.location"),
                self.tls.join(TRUSTSTORE).display().to_string(),
            ),
            (
                format!("{prefix}ssl.truststore.password"),
                self.reference("truststore.password"),
            ),
        ]
    }

    /// `sasl.jaas.config` of a SCRAM client; the password is a provider reference.
    fn scram_login(&self, user: &str) -> String {
        format!(
            "{SCRAM_LOGIN_MODULE} required username=\"{user}\" password=\"{}\";",
            self.reference(&format!("{user}.password"))
        )
    }

    /// librdkafka properties of kscen's clients: SASL_SSL as `kscen`, trusting `ca.pem`.
    /// `password` is the password itself (kscen's own clients) or a reference (the profile).
    pub fn kscen_kafka_settings(&self, password: String) -> KafkaProperties {
        vec![
            ("security.protocol", "SASL_SSL".to_string()),
            ("sasl.mechanisms", SCRAM_MECHANISM.to_string()),
            ("sasl.username", KSCEN_USER.to_string()),
            ("sasl.password", password),
            ("ssl.ca.location", self.ca_pem().display().to_string()),
        ]
    }

    /// An HTTP client for the workers' REST API: trusts `ca.pem` and sends Basic auth as `kscen`
    /// (a sensitive header, so it never shows in debug output).
    pub fn rest_client(&self, timeout: Duration) -> Result<reqwest::Client> {
        use base64::Engine as _;
        let pem = std::fs::read(self.ca_pem())
            .with_context(|| format!("reading the lab's CA {}", self.ca_pem().display()))?;
        let ca = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{} is not a PEM certificate", self.ca_pem().display()))?;
        let password = read_secret(&self.rest_password_file())?;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{KSCEN_USER}:{password}"));
        let mut authorization = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
            .context("building the Connect REST Authorization header")?;
        authorization.set_sensitive(true);
        let headers = reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            authorization,
        )]);
        reqwest::Client::builder()
            .timeout(timeout)
            .add_root_certificate(ca)
            .default_headers(headers)
            .build()
            .context("building the HTTPS client for the Connect REST API")
    }
}

/// librdkafka properties kscen's own clients (readiness, the seed topic, status) need to reach
/// the lab's brokers: none for the plain lab.
pub fn kscen_client_properties(topo: &Topology) -> Result<KafkaProperties> {
    match &topo.security {
        None => Ok(Vec::new()),
        Some(security) => {
            let password = read_secret(&security.password_file(KSCEN_USER))?;
            Ok(security.kscen_kafka_settings(password))
        }
    }
}

fn marker_file(state: &Path) -> PathBuf {
    state.join("secure")
}

/// Whether `up --secure` made the lab of `state`.
pub fn recorded(state: &Path) -> bool {
    marker_file(state).is_file()
}

/// Records that the lab of `state` is secure: every later command reads it.
pub fn record(state: &Path) -> Result<()> {
    std::fs::create_dir_all(state)
        .with_context(|| format!("creating the state folder {}", state.display()))?;
    let file = marker_file(state);
    std::fs::write(
        &file,
        "made by `kscen lab up --secure`: SASL_SSL + SCRAM-SHA-512, Connect REST over HTTPS\n",
    )
    .with_context(|| format!("writing {}", file.display()))
}

/// `k=v` lines.
fn properties(settings: &[(String, String)]) -> String {
    settings.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

async fn run_keytool(keytool: &Path, dir: &Path, args: &str) -> Result<()> {
    let out = tokio::process::Command::new(keytool)
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", keytool.display()))?;
    if !out.status.success() {
        bail!(
            "`keytool {args}` failed in {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// 24 random bytes as 48 hex digits: safe unquoted in properties, JAAS and `--add-scram`.
fn random_secret() -> Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(hex::encode(bytes))
}

fn read_secret(file: &Path) -> Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "reading the lab secret {}; `kscen lab up` makes what is missing",
            file.display()
        )
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Writes `text` to a file only its owner can read, even if it existed with a wider mode.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    restrict(path, 0o600)?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    restrict(dir, 0o700)
}

fn restrict(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
}

/// The secrets `prepare` makes, without keytool: the TLS folder gets its password files and a
/// placeholder `ca.pem`. Returns every password, for tests that check where they (do not) go.
#[cfg(test)]
pub fn write_test_secrets(security: &Security) -> Vec<String> {
    security.ensure_passwords(false).unwrap();
    create_private_dir(&security.tls).unwrap();
    for file in [KEYSTORE_PASSWORD, TRUSTSTORE_PASSWORD] {
        write_private(&security.tls.join(file), &random_secret().unwrap()).unwrap();
    }
    std::fs::write(security.ca_pem(), "-----BEGIN CERTIFICATE-----\n").unwrap();
    security.write_derived_files().unwrap();
    let mut files = vec![
        security.tls.join(KEYSTORE_PASSWORD),
        security.tls.join(TRUSTSTORE_PASSWORD),
        security.rest_password_file(),
    ];
    files.extend(SCRAM_USERS.map(|user| security.password_file(user)));
    files.iter().map(|f| read_secret(f).unwrap()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn passwords_are_random_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let security = Security::new(dir.path());
        security.ensure_passwords(false).unwrap();
        assert_eq!(mode(security.secrets_dir()), 0o700);
        let kscen = security.password_file(KSCEN_USER);
        let first = std::fs::read_to_string(&kscen).unwrap();
        assert_eq!(first.len(), 48, "{first:?}");
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        for name in ["kscen", "connect", "broker", "connect-rest"] {
            let file = dir.path().join(format!("secrets/{name}.password"));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        assert_ne!(
            first,
            std::fs::read_to_string(security.password_file(CONNECT_USER)).unwrap()
        );

        security.ensure_passwords(true).unwrap();
        assert_eq!(std::fs::read_to_string(&kscen).unwrap(), first, "kept");
        // The REST password lives outside Kafka's storage: it can be made anew.
        std::fs::remove_file(security.rest_password_file()).unwrap();
        security.ensure_passwords(true).unwrap();
        assert!(security.rest_password_file().is_file());
        std::fs::remove_file(&kscen).unwrap();
        let error = format!("{:#}", security.ensure_passwords(true).unwrap_err());
        assert!(error.contains("kscen lab down --purge"), "{error}");
    }

    #[test]
    fn the_jvms_read_their_passwords_from_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let security = Security::new(dir.path());
        write_test_secrets(&security);
        let provider = std::fs::read_to_string(security.provider_file()).unwrap();
        let connect = read_secret(&security.password_file(CONNECT_USER)).unwrap();
        assert!(
            provider.contains(&format!("\nconnect.password={connect}\n")),
            "{provider}"
        );
        for key in [
            "keystore.password=",
            "truststore.password=",
            "broker.password=",
        ] {
            assert!(provider.contains(&format!("\n{key}")), "{provider}");
        }
        let rest = read_secret(&security.rest_password_file()).unwrap();
        assert_eq!(
            std::fs::read_to_string(security.rest_credentials_file()).unwrap(),
            format!("kscen={rest}\n")
        );
        let jaas = std::fs::read_to_string(security.rest_jaas_file()).unwrap();
        assert!(jaas.starts_with("KafkaConnect {\n"), "{jaas}");
        assert!(
            jaas.contains(&format!(
                "PropertyFileLoginModule required\n  file=\"{}\";\n}};",
                security.rest_credentials_file().display()
            )),
            "{jaas}"
        );
        for file in [
            security.provider_file(),
            security.rest_credentials_file(),
            security.rest_jaas_file(),
        ] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[test]
    fn scram_users_are_created_with_their_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let security = Security::new(dir.path());
        write_test_secrets(&security);
        let args = security.scram_arguments().unwrap();
        assert_eq!(args.len(), 6);
        let broker = read_secret(&security.password_file(BROKER_USER)).unwrap();
        assert_eq!(args[4], "--add-scram");
        assert_eq!(
            args[5],
            format!("SCRAM-SHA-512=[name=broker,password={broker}]")
        );
    }

    #[test]
    fn kscen_logs_in_as_kscen_and_trusts_the_lab_ca() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Topology::new(dir.path(), 2000, 1).unwrap();
        assert!(kscen_client_properties(&plain).unwrap().is_empty());
        let secure = plain.secured();
        let error = format!("{:#}", kscen_client_properties(&secure).unwrap_err());
        assert!(error.contains("secrets/kscen.password"), "{error}");
        let security = secure.security.clone().unwrap();
        write_test_secrets(&security);
        let password = read_secret(&security.password_file(KSCEN_USER)).unwrap();
        let ca = dir.path().join("tls/ca.pem").display().to_string();
        assert_eq!(
            kscen_client_properties(&secure).unwrap(),
            [
                ("security.protocol", "SASL_SSL".to_string()),
                ("sasl.mechanisms", "SCRAM-SHA-512".to_string()),
                ("sasl.username", "kscen".to_string()),
                ("sasl.password", password),
                ("ssl.ca.location", ca),
            ]
        );
    }

    #[test]
    fn the_secure_state_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!recorded(dir.path()));
        record(dir.path()).unwrap();
        assert!(recorded(dir.path()));
        let topo = Topology::load(dir.path()).unwrap();
        assert_eq!(topo.security, Some(Security::new(dir.path())));
        let worker = topo.process("worker-1").unwrap();
        assert_eq!(worker.url(), "https://127.0.0.1:20083");
        assert_eq!(
            topo.prometheus().map(|p| p.url()),
            Some("http://127.0.0.1:20090".to_string()),
            "metrics stay plain HTTP"
        );
    }
}
