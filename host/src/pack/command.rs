//! `kscen pack …`: the command line over the pack modules, and what it prints.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use super::archive::PackArchive;
use super::build::{build, BuildRequest};
use super::install::{self, packs_dir, Installed};
use super::manifest::Manifest;
use super::minisign::SecretKey;
use super::oci::{self, RegistryArgs};
use super::trust::{trust_dir, TrustStore};
use super::verify::{self, check_signature, trusted_comment, Publisher, Verified};
use super::{digest, manifest};
use crate::engine::Host;

#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Build a pack from scenario files and the plugins they name (found like `kscen run` does).
    Build(BuildArgs),
    /// Show a pack's manifest, signature and digest status, without installing it.
    Inspect {
        pack: PathBuf,
        /// Print the manifest as JSON instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        trust: TrustDirArg,
    },
    /// Check a pack's signature against the trust store and every file against its manifest.
    Verify {
        pack: PathBuf,
        /// Accept a pack without a trusted signature (digests are still checked).
        #[arg(long)]
        allow_unsigned: bool,
        #[command(flatten)]
        trust: TrustDirArg,
    },
    /// Verify a pack, then unpack it into the installed packs (runnable as `kscen run PACK/SCENARIO`).
    Install {
        pack: PathBuf,
        /// Accept a pack without a trusted signature (digests are still checked).
        #[arg(long)]
        allow_unsigned: bool,
        /// Replace an installed pack of the same name and version.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        trust: TrustDirArg,
        #[command(flatten)]
        packs: PacksDirArg,
    },
    /// Push a pack to an OCI registry as a Wasm OCI artifact; prints the digest to pull it by.
    ///
    /// Credentials, when the registry needs them: KSCEN_REGISTRY_USERNAME and
    /// KSCEN_REGISTRY_PASSWORD.
    Push {
        pack: PathBuf,
        /// Where to: REGISTRY/REPOSITORY:TAG, e.g. registry.example.com/acme/perf:1.2.0.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Pull a pack from an OCI registry, by tag or by digest, verify it as `verify` does, and
    /// write it as a pack file (nothing is written when it is refused).
    Pull {
        /// REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST.
        reference: String,
        /// Pack file to write. Default: NAME-VERSION.kpack from its manifest.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Accept a pack without a trusted signature (digests are still checked).
        #[arg(long)]
        allow_unsigned: bool,
        #[command(flatten)]
        trust: TrustDirArg,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List the installed packs with their publisher.
    List {
        #[command(flatten)]
        packs: PacksDirArg,
    },
    /// Write a new Ed25519 key pair (minisign format): NAME.key (secret) and NAME.pub.
    Keygen {
        /// Folder to write the key files into.
        #[arg(long)]
        out: PathBuf,
        /// File name (and comment) of the key pair.
        #[arg(long, default_value = "kscen-pack")]
        name: String,
    },
    /// Sign a pack's manifest (replacing any signature) after checking its files match it.
    Sign {
        pack: PathBuf,
        /// Secret key file (from `kscen pack keygen`, or `minisign -G -W`).
        #[arg(long)]
        key: PathBuf,
        /// Write the signed pack here instead of replacing PACK.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Manage the trust store of organisation public keys.
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust packs signed with this public key, under NAME.
    Add {
        name: String,
        keyfile: PathBuf,
        #[command(flatten)]
        trust: TrustDirArg,
    },
    /// List the trusted keys.
    List {
        #[command(flatten)]
        trust: TrustDirArg,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Scenario files to include (each names its plugin by name).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Pack name (letters, digits, '-', '_', '.').
    #[arg(long)]
    pub name: String,
    /// Pack version (semver, e.g. 1.0.0).
    #[arg(long = "version", value_name = "SEMVER")]
    pub pack_version: String,
    /// Output file. Default: NAME-VERSION.kpack.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sign with this secret key (otherwise sign later with `kscen pack sign`).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrustDirArg {
    /// Trust store folder. Default: $KSCEN_TRUST_DIR, else ~/.config/kscen/trust.
    #[arg(long = "trust-dir", value_name = "DIR")]
    pub trust_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PacksDirArg {
    /// Installed packs folder. Default: $KSCEN_PACKS_DIR, else ~/.local/share/kscen/packs.
    #[arg(long = "packs-dir", value_name = "DIR")]
    pub packs_dir: Option<PathBuf>,
}

impl TrustDirArg {
    fn load(&self) -> Result<TrustStore> {
        TrustStore::load(&trust_dir(self.trust_dir.as_deref())?)
    }
}

pub async fn run(command: PackCommand) -> Result<()> {
    match command {
        PackCommand::Build(args) => build_command(args).await,
        PackCommand::Inspect { pack, json, trust } => inspect(&pack, json, &trust.load()?),
        PackCommand::Verify {
            pack,
            allow_unsigned,
            trust,
        } => {
            let verified = read_verified(&pack, &trust.load()?, allow_unsigned)?.1;
            println!(
                "OK: pack {} — signature: {}; {} files match their sha256 in the manifest",
                verified.manifest.id(),
                verified.publisher,
                verified.manifest.files().count()
            );
            warn_if_untrusted(&verified);
            Ok(())
        }
        PackCommand::Install {
            pack,
            allow_unsigned,
            force,
            trust,
            packs,
        } => install_command(&pack, allow_unsigned, force, &trust.load()?, &packs).await,
        PackCommand::Push {
            pack,
            reference,
            registry,
        } => {
            let archive = PackArchive::read(&pack)?;
            let digest = oci::push(&archive, &reference, &registry).await?;
            println!("Pushed {} to {reference} ({digest})", pack.display());
            Ok(())
        }
        PackCommand::Pull {
            reference,
            out,
            allow_unsigned,
            trust,
            registry,
        } => pull(&reference, out, allow_unsigned, &trust.load()?, &registry).await,
        PackCommand::List { packs } => list(&packs_dir(packs.packs_dir.as_deref())?),
        PackCommand::Keygen { out, name } => keygen(&out, &name),
        PackCommand::Sign { pack, key, out } => sign(&pack, &key, out.as_deref()),
        PackCommand::Trust { command } => trust_command(command),
    }
}

fn read_verified(
    path: &Path,
    trust: &TrustStore,
    allow_unsigned: bool,
) -> Result<(PackArchive, Verified)> {
    let archive = PackArchive::read(path)?;
    let verified = verify::verify(&archive, trust, allow_unsigned)
        .with_context(|| format!("pack {} refused", path.display()))?;
    Ok((archive, verified))
}

async fn pull(
    reference: &str,
    out: Option<PathBuf>,
    allow_unsigned: bool,
    trust: &TrustStore,
    registry: &RegistryArgs,
) -> Result<()> {
    let (archive, digest) = oci::pull(reference, registry).await?;
    let verified = verify::verify(&archive, trust, allow_unsigned)
        .with_context(|| format!("pack {reference} ({digest}) refused"))?;
    let manifest = &verified.manifest;
    let out = out
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.kpack", manifest.name, manifest.version)));
    archive.write(&out)?;
    println!(
        "Pulled {} from {reference} ({digest}) into {}: signature {}; {} files match their sha256",
        manifest.id(),
        out.display(),
        verified.publisher,
        manifest.files().count()
    );
    warn_if_untrusted(&verified);
    Ok(())
}

fn warn_if_untrusted(verified: &Verified) {
    if !matches!(verified.publisher, Publisher::Trusted { .. }) {
        eprintln!(
            "warning: accepted without a trusted signature ({}) because of --allow-unsigned",
            verified.publisher
        );
    }
}

fn read_key(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret key {}", path.display()))?;
    SecretKey::parse(&text).with_context(|| format!("secret key {}", path.display()))
}

async fn build_command(args: BuildArgs) -> Result<()> {
    let key = args.key.as_deref().map(read_key).transpose()?;
    let host = Host::new()?;
    let request = BuildRequest {
        name: args.name,
        version: args.pack_version,
        scenarios: args.scenarios,
        key,
    };
    let (manifest, archive) = build(&host, &request).await?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}-{}.kpack", manifest.name, manifest.version)));
    archive.write(&out)?;
    println!(
        "Built {} ({}): {} plugin(s), {} scenario(s), {}",
        out.display(),
        manifest.id(),
        manifest.plugins.len(),
        manifest.scenarios.len(),
        match &request.key {
            Some(key) => format!("signed with key {}", key.id),
            None => "unsigned (sign it with `kscen pack sign`)".into(),
        }
    );
    Ok(())
}

fn inspect(path: &Path, json: bool, trust: &TrustStore) -> Result<()> {
    let archive = PackArchive::read(path)?;
    if json {
        print!("{}", String::from_utf8_lossy(&archive.manifest));
        return Ok(());
    }
    let manifest =
        Manifest::parse(&archive.manifest).with_context(|| format!("pack {}", path.display()))?;
    println!(
        "Pack {} (format {}, {})",
        manifest.id(),
        manifest.format,
        manifest.wit
    );
    println!("Built by {}", manifest.built_by);
    let signature =
        match check_signature(&archive.manifest, archive.signature.as_deref(), trust, true) {
            Ok(Publisher::Trusted { name, key_id }) => format!("valid, by {name} (key {key_id})"),
            Ok(Publisher::UnknownKey(key_id)) => {
                format!("by key {key_id}, which the trust store does not hold")
            }
            Ok(Publisher::Unsigned) => "none (unsigned)".into(),
            Err(error) => format!("INVALID: {error:#}"),
        };
    println!("Signature: {signature}");
    let digests = match digest::check_all(&manifest, &archive.files) {
        Ok(()) => "all files match the manifest".to_string(),
        Err(error) => format!("MISMATCH: {error:#}"),
    };
    println!("Digests: {digests}");
    println!("Default limits: {}", manifest.default_limits);
    println!("\nPlugins:");
    for plugin in &manifest.plugins {
        println!(
            "  {} ({}, {} bytes)",
            plugin.name, plugin.file.sha256, plugin.file.size
        );
        let caps: Vec<String> = plugin
            .capabilities
            .iter()
            .map(ToString::to_string)
            .collect();
        println!(
            "    requests: {}",
            if caps.is_empty() {
                "nothing".to_string()
            } else {
                caps.join(", ")
            }
        );
    }
    println!("\nScenarios:");
    for scenario in &manifest.scenarios {
        println!(
            "  {:<32} plugin {:<18} {}",
            scenario.name, scenario.plugin, scenario.limits
        );
    }
    Ok(())
}

async fn install_command(
    path: &Path,
    allow_unsigned: bool,
    force: bool,
    trust: &TrustStore,
    packs: &PacksDirArg,
) -> Result<()> {
    let (archive, verified) = read_verified(path, trust, allow_unsigned)?;
    warn_if_untrusted(&verified);
    let packs_dir = packs_dir(packs.packs_dir.as_deref())?;
    let staged = install::stage(&packs_dir, &archive, &verified, path, force)?;
    check_capabilities(&staged.dir, &verified.manifest)
        .await
        .with_context(|| format!("pack {} refused", path.display()))?;
    let dest = staged.commit()?;
    println!(
        "Installed {} from {} into {} (signature: {})",
        verified.manifest.id(),
        path.display(),
        dest.display(),
        verified.publisher
    );
    for scenario in &verified.manifest.scenarios {
        println!("  kscen run {}/{}", verified.manifest.name, scenario.name);
    }
    Ok(())
}

/// What `inspect` showed a reviewer must be what runs: each component's `describe` must request
/// exactly the capabilities its manifest entry lists, required and optional alike (and must load
/// as a kscen scenario at all).
async fn check_capabilities(dir: &Path, manifest: &Manifest) -> Result<()> {
    let host = Host::new()?;
    for plugin in &manifest.plugins {
        let loaded = host.load(&dir.join(&plugin.file.path))?;
        let info = loaded.describe(&host).await?;
        let mut requested: Vec<manifest::Capability> =
            info.all_requests().map(Into::into).collect();
        requested.sort();
        let mut declared = plugin.capabilities.clone();
        declared.sort();
        if requested != declared {
            let show = |caps: &[manifest::Capability]| {
                caps.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bail!(
                "plugin {} requests [{}] but the manifest declares [{}]",
                plugin.name,
                show(&requested),
                show(&declared)
            );
        }
    }
    Ok(())
}

fn list(packs_dir: &Path) -> Result<()> {
    let installed = install::list(packs_dir);
    if installed.is_empty() {
        println!("No packs installed in {}.", packs_dir.display());
        return Ok(());
    }
    println!("Installed packs ({}):", packs_dir.display());
    println!(
        "  {:<24} {:<10} {:<34} scenarios",
        "name", "version", "publisher (key)"
    );
    for pack in installed {
        match pack {
            Ok(Installed {
                manifest, record, ..
            }) => {
                let publisher = match &record {
                    Some(r) => match &r.key_id {
                        Some(id) => format!("{} ({id})", r.publisher),
                        None => r.publisher.clone(),
                    },
                    None => "unknown (no install.json)".into(),
                };
                let scenarios: Vec<&str> =
                    manifest.scenarios.iter().map(|s| s.name.as_str()).collect();
                println!(
                    "  {:<24} {:<10} {:<34} {}",
                    manifest.name,
                    manifest.version,
                    publisher,
                    scenarios.join(", ")
                );
            }
            Err(error) => println!("  broken: {error:#}"),
        }
    }
    Ok(())
}

fn keygen(out: &Path, name: &str) -> Result<()> {
    manifest::check_name("key name", name)?;
    let secret_path = out.join(format!("{name}.key"));
    let public_path = out.join(format!("{name}.pub"));
    for path in [&secret_path, &public_path] {
        if path.exists() {
            bail!("{} exists; refusing to overwrite a key", path.display());
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let secret = SecretKey::generate()?;
    write_secret(
        &secret_path,
        &secret.to_file_text(&format!("kscen pack secret key {name}")),
    )?;
    std::fs::write(
        &public_path,
        secret
            .public()
            .to_file_text(&format!("kscen pack public key {name}")),
    )
    .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!(
        "Key {} written: {} (secret: keep it private) and {} (public: give it to those who install your packs)",
        secret.id,
        secret_path.display(),
        public_path.display()
    );
    Ok(())
}

/// Created owner-only from the start, so the secret is never readable by others even briefly.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn sign(path: &Path, key: &Path, out: Option<&Path>) -> Result<()> {
    let key = read_key(key)?;
    let mut archive = PackArchive::read(path)?;
    let manifest =
        Manifest::parse(&archive.manifest).with_context(|| format!("pack {}", path.display()))?;
    // Signing vouches for the files: never sign a pack whose files no longer match its manifest.
    digest::check_all(&manifest, &archive.files)
        .with_context(|| format!("pack {} not signed", path.display()))?;
    archive.signature = Some(
        key.sign(&archive.manifest, &trusted_comment(&manifest))
            .to_file_text(),
    );
    let out = out.unwrap_or(path);
    archive.write(out)?;
    println!(
        "Signed {} with key {} into {}",
        manifest.id(),
        key.id,
        out.display()
    );
    Ok(())
}

fn trust_command(command: TrustCommand) -> Result<()> {
    match command {
        TrustCommand::Add {
            name,
            keyfile,
            trust,
        } => {
            let dir = trust_dir(trust.trust_dir.as_deref())?;
            let added = TrustStore::add(&dir, &name, &keyfile)?;
            println!(
                "Trusting key {} as {} ({})",
                added.key.id,
                added.name,
                dir.display()
            );
        }
        TrustCommand::List { trust } => println!("{}", trust.load()?.describe()),
    }
    Ok(())
}
