//! The local Kubernetes harness (docs/k8s-harness.md): a single-node cluster on 127.0.0.1 for the
//! tests of kscen's Kubernetes Jobs, and kscen's container image.
//!
//! The cluster's processes and the host changes they make are shell's business
//! (`lab/k8s/{build,up,down,smoke}.sh`); this module finds the cache and the state folder, builds
//! the images (`image`), and runs the scripts so that a failed `up` is always followed by `down`.
//!
//! ```text
//! ~/.cache/kscen/k8s/<k8s>-etcd-<etcd>/bin/   kube-apiserver, ..., kubelet, etcd (built once)
//! ~/.cache/kscen/k8s/state/                  the cluster: kubeconfig, logs/, images/*.tar, pki/, ...
//! ```

pub mod image;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;
use image::Image;

pub const KUBERNETES_VERSION: &str = "v1.34.4";
pub const ETCD_VERSION: &str = "v3.6.4";
/// The pod sandbox image containerd is configured with (lab/k8s/up.sh).
pub const PAUSE_IMAGE: &str = "localhost/kscen/pause:1.0";
/// Where kscen and what it bundles live in its image (the layout of `bundle`).
pub const IMAGE_PREFIX: &str = "/opt/kscen";

pub const USAGE: &str =
    "  k8s-build       build (once, cached in ~/.cache/kscen/k8s) Kubernetes and etcd from source
  k8s-up          start a single-node Kubernetes on 127.0.0.1; prints its KUBECONFIG
                  [--state-dir DIR] (default ~/.cache/kscen/k8s/state)
  k8s-down        stop it and undo its changes to the host [--state-dir DIR] [--purge]
  k8s-image       kscen's container image (OCI image layout tar), imported when the cluster runs
                  [--state-dir DIR] [--out TAR]
  k8s-smoke       image, up, Indexed Jobs of 4, results, the hostNetwork check, down
                  [--state-dir DIR] (default ~/.cache/kscen/k8s/smoke-state)";

/// The image tag of this checkout's kscen.
pub fn image_reference(workspace: &Workspace) -> String {
    format!("localhost/kscen/kscen:{}", workspace.version)
}

pub fn run(workspace: &Workspace, task: &str, args: &[String]) -> Result<()> {
    let options = Options::parse(task, args)?;
    match task {
        "k8s-build" => {
            let bin = build(workspace)?;
            println!("{}", bin.display());
            Ok(())
        }
        "k8s-up" => up(workspace, &options.state_dir),
        "k8s-down" => down(workspace, &options.state_dir, options.purge),
        "k8s-image" => image(workspace, &options.state_dir, options.out.as_deref()).map(|_| ()),
        "k8s-smoke" => smoke(workspace, &options.state_dir),
        _ => bail!("unknown task {task:?}"),
    }
}

struct Options {
    state_dir: PathBuf,
    out: Option<PathBuf>,
    purge: bool,
}

impl Options {
    fn parse(task: &str, args: &[String]) -> Result<Options> {
        let default_state = if task == "k8s-smoke" {
            "smoke-state"
        } else {
            "state"
        };
        let mut options = Options {
            state_dir: cache_dir()?.join(default_state),
            out: None,
            purge: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--state-dir" => options.state_dir = args.next().context("--state-dir DIR")?.into(),
                "--out" if task == "k8s-image" => {
                    options.out = Some(args.next().context("--out TAR")?.into())
                }
                "--purge" if task == "k8s-down" => options.purge = true,
                other => bail!("{task}: unexpected argument {other:?}\n{USAGE}"),
            }
        }
        options.state_dir = absolute(&options.state_dir)?;
        Ok(options)
    }
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// `$KSCEN_K8S_CACHE`, else `~/.cache/kscen/k8s`: outside the clone, shared by every checkout.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KSCEN_K8S_CACHE") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("HOME is not set (or set KSCEN_K8S_CACHE)")?;
    Ok(Path::new(&home).join(".cache/kscen/k8s"))
}

fn script(workspace: &Workspace, name: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg(workspace.root.join("lab").join("k8s").join(name));
    command
}

/// The Kubernetes and etcd binaries' folder, built on first use (~9 min on 2 cores), then cached.
pub fn build(workspace: &Workspace) -> Result<PathBuf> {
    let out = script(workspace, "build.sh")
        .env("K8S_VERSION", KUBERNETES_VERSION)
        .env("ETCD_VERSION", ETCD_VERSION)
        .env("KSCEN_K8S_CACHE", cache_dir()?)
        .stderr(Stdio::inherit())
        .output()
        .context("running lab/k8s/build.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("lab/k8s/build.sh failed ({}): {stdout}", out.status);
    }
    let bin = stdout.lines().last().unwrap_or_default().trim();
    let bin = bin.strip_suffix(" (cached)").unwrap_or(bin);
    Ok(PathBuf::from(bin))
}

/// The binaries' build started ahead of the Kubernetes tests, at the lowest CPU priority
/// (SCHED_IDLE): it compiles in what the lab tests leave idle instead of adding its minutes to the
/// run. `build` then waits for it (build.sh's lock) and finds the cache complete, or, if it failed,
/// builds again in the foreground and shows why. Nothing is started where the cluster cannot run.
pub fn build_in_background(workspace: &Workspace) -> Result<Option<BackgroundBuild>> {
    if prerequisites().is_err() {
        return Ok(None);
    }
    let cache = cache_dir()?;
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let log_path = cache.join("background-build.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let child = Command::new("chrt")
        .args(["--idle", "0", "bash"])
        .arg(workspace.root.join("lab").join("k8s").join("build.sh"))
        .env("K8S_VERSION", KUBERNETES_VERSION)
        .env("ETCD_VERSION", ETCD_VERSION)
        .env("KSCEN_K8S_CACHE", &cache)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting lab/k8s/build.sh under `chrt --idle 0` (util-linux)")?;
    eprintln!(
        "building Kubernetes in the background if not cached (log {})",
        log_path.display()
    );
    Ok(Some(BackgroundBuild { child }))
}

/// A build started by `build_in_background`; stopped, with its compilers, if still running when
/// dropped (a failed test run leaves nothing behind).
pub struct BackgroundBuild {
    child: std::process::Child,
}

impl Drop for BackgroundBuild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The group's leader is the child: its id is the group's.
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

/// Starts the cluster in `state`; a failed start is torn down before the error is returned.
pub fn up(workspace: &Workspace, state: &Path) -> Result<()> {
    let bin = build(workspace)?;
    let started = Instant::now();
    std::fs::create_dir_all(state.join("images"))?;
    pause_image(workspace, state)?;
    let status = script(workspace, "up.sh")
        .arg(&bin)
        .arg(state)
        .status()
        .context("running lab/k8s/up.sh")?;
    if !status.success() {
        eprintln!(
            "k8s-up failed: tearing down what started (logs kept in {}/logs)",
            state.display()
        );
        down(workspace, state, false)?;
        bail!("lab/k8s/up.sh failed ({status})");
    }
    eprintln!(
        "k8s-up: cluster ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    println!("KUBECONFIG={}", kubeconfig(state).display());
    Ok(())
}

pub fn kubeconfig(state: &Path) -> PathBuf {
    state.join("kubeconfig")
}

/// Stops the cluster of `state` (a no-op when none runs); `purge` removes the folder too.
pub fn down(workspace: &Workspace, state: &Path, purge: bool) -> Result<()> {
    let started = Instant::now();
    crate::run(script(workspace, "down.sh").arg(state))?;
    if purge && state.exists() {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let prefix = format!(" {}/", state.display());
        if mounts.contains(&prefix) {
            bail!(
                "{} still has mounts under it: not removing it",
                state.display()
            );
        }
        std::fs::remove_dir_all(state).with_context(|| format!("removing {}", state.display()))?;
    }
    eprintln!("k8s-down: {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The pod sandbox image: lab/k8s/pause.c, static, alone in its image.
fn pause_image(workspace: &Workspace, state: &Path) -> Result<()> {
    let binary = state.join("pause");
    crate::run(
        Command::new("gcc")
            .args(["-static", "-Os", "-s", "-o"])
            .arg(&binary)
            .arg(workspace.root.join("lab/k8s/pause.c")),
    )
    .context("compiling the pause image's program (needs gcc and a static libc, libc6-dev)")?;
    let mut image = Image::new(&["/pause"]);
    image.file(&binary, "/pause", 0o755)?;
    image.write(PAUSE_IMAGE, &state.join("images").join("pause.tar"))?;
    Ok(())
}

/// kscen's image: the release binary, the shared libraries it loads and their loader, the bundled
/// plugins, scenarios and campaigns under /opt/kscen as `cargo xtask install` lays them out.
/// Written to `out`, or else to `<state>/images/kscen.tar`, which `k8s-up` imports, and imported
/// at once when the cluster of `state` runs.
pub fn image(workspace: &Workspace, state: &Path, out: Option<&Path>) -> Result<PathBuf> {
    crate::plugins::build(workspace)?;
    crate::run(crate::cargo().args(["build", "--release", "--locked", "-p", "kscen"]))?;
    let started = Instant::now();
    let kscen = workspace.binary("release", "kscen");
    let mut image = Image::new(&[&format!("{IMAGE_PREFIX}/bin/kscen")]);
    image.file(
        &without_debug_info(workspace, &kscen)?,
        &format!("{IMAGE_PREFIX}/bin/kscen"),
        0o755,
    )?;
    let libraries = image.shared_libraries_of(&kscen)?;
    let share = format!("{IMAGE_PREFIX}/share/kscen");
    for plugin in crate::plugins::bundled_plugins() {
        let name = format!("{plugin}.wasm");
        image.file(
            &workspace.plugin_dist().join(&name),
            &format!("{share}/plugins/{name}"),
            0o644,
        )?;
    }
    for folder in ["scenarios", "campaigns"] {
        image.files_with_extension(
            &workspace.root.join(folder),
            "toml",
            &format!("{share}/{folder}"),
            0o644,
        )?;
    }
    // TLS towards a real cluster where a profile names no CA file: the host's CA bundle, also where
    // the OpenSSL kscen links against looks by default (its OPENSSLDIR, /usr/lib/ssl on Debian).
    let ca_bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if ca_bundle.is_file() {
        image.file(ca_bundle, "/etc/ssl/certs/ca-certificates.crt", 0o644)?;
        image.symlink(
            "/usr/lib/ssl/cert.pem",
            "/etc/ssl/certs/ca-certificates.crt",
        );
        image.symlink("/usr/lib/ssl/certs", "/etc/ssl/certs");
    }
    // kscen's caches (compiled plugins) go under $HOME; results wherever the Job mounts a volume.
    image.dir("/tmp", 0o1777);
    image.bytes("/etc/passwd", "root:x:0:0:root:/tmp:/nonexistent\n", 0o644);
    image.bytes("/etc/group", "root:x:0:\n", 0o644);
    image.env = vec![
        format!("PATH={IMAGE_PREFIX}/bin"),
        "HOME=/tmp".into(),
        format!("KSCEN_PLUGIN_PATH={share}/plugins"),
    ];
    image.working_dir = "/tmp".into();

    let target = match out {
        Some(path) => absolute(path)?,
        None => state.join("images").join("kscen.tar"),
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let reference = image_reference(workspace);
    let id = image.write(&reference, &target)?;
    let size = std::fs::metadata(&target)?.len();
    eprintln!(
        "k8s-image: {reference} ({id}), {:.1} MB, in {:.1}s: {}\n  shared libraries: {}",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        target.display(),
        if libraries.is_empty() {
            "none (static)".to_string()
        } else {
            libraries.join(" ")
        }
    );
    if out.is_none() && cluster_runs(state) {
        import(state, &target)?;
        eprintln!(
            "k8s-image: imported into the cluster of {}",
            state.display()
        );
    }
    Ok(target)
}

/// A copy of `binary` without its line tables (`strip --strip-debug`: 229 -> 48 MB for kscen);
/// symbols stay, so a backtrace still names functions. The binary itself when `strip` is missing.
fn without_debug_info(workspace: &Workspace, binary: &Path) -> Result<PathBuf> {
    let dir = workspace.target.join("k8s-image");
    std::fs::create_dir_all(&dir)?;
    let stripped = dir.join(binary.file_name().context("a binary file name")?);
    let status = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&stripped)
        .arg(binary)
        .status();
    match status {
        Ok(s) if s.success() => Ok(stripped),
        Ok(s) => bail!("strip --strip-debug {} failed ({s})", binary.display()),
        Err(e) => {
            eprintln!("k8s-image: strip not available ({e}): the image keeps kscen's debug info");
            Ok(binary.to_path_buf())
        }
    }
}

/// The containerd of `state` answers (the cluster is up, or half up).
fn cluster_runs(state: &Path) -> bool {
    ctr(state)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ctr(state: &Path) -> Command {
    let mut command = Command::new("ctr");
    command
        .arg("--address")
        .arg(state.join("containerd").join("containerd.sock"))
        .args(["-n", "k8s.io"]);
    command
}

/// `ctr images import` into the cluster's containerd (the namespace the kubelet uses).
pub fn import(state: &Path, tar: &Path) -> Result<()> {
    crate::run(ctr(state).args(["images", "import"]).arg(tar))
}

/// Runs `f` with the kubeconfig of a cluster started for the integration tests, kscen's image in
/// it, and tears the cluster down afterwards whatever happened. Where it cannot run (not root, a
/// tool missing) `f` gets `None` and the tests say they are skipped; under CI=true that fails.
pub fn with_cluster<T>(
    workspace: &Workspace,
    f: impl FnOnce(Option<&Path>) -> Result<T>,
) -> Result<T> {
    if let Err(why) = prerequisites() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("CI=true and the local Kubernetes cannot run: {why:#}");
        }
        eprintln!("skipping the Kubernetes tests: {why:#}");
        return f(None);
    }
    let state = cache_dir()?.join("test-state");
    image(workspace, &state, None)?;
    let _cluster = Cluster {
        workspace,
        state: &state,
    };
    up(workspace, &state)?;
    f(Some(&kubeconfig(&state)))
}

/// What the cluster needs on this machine: root, and the tools of docs/k8s-harness.md.
fn prerequisites() -> Result<()> {
    let user = Command::new("id")
        .arg("-u")
        .output()
        .context("running id -u")?;
    if String::from_utf8_lossy(&user.stdout).trim() != "0" {
        bail!("the local Kubernetes runs as root (containerd, the kubelet, CNI)");
    }
    // Go too, for the first build of the binaries (lab/k8s/build.sh says so when it is missing).
    for tool in [
        "containerd",
        "runc",
        "kubectl",
        "gcc",
        "iptables",
        "conntrack",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            bail!("{tool} is not installed (docs/k8s-harness.md says what the harness needs)");
        }
    }
    Ok(())
}

/// Tears the cluster down when dropped: a failing or panicking test leaves nothing running.
struct Cluster<'a> {
    workspace: &'a Workspace,
    state: &'a Path,
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        if let Err(e) = down(self.workspace, self.state, false) {
            eprintln!(
                "warning: k8s-down failed: {e:#}; run `cargo xtask k8s-down --state-dir {}`",
                self.state.display()
            );
        }
    }
}

/// The harness end to end: image, cluster, lab/k8s/smoke.sh (Indexed Jobs of 4: `kscen --version`,
/// then shards from a ConfigMap with index 3 failing; results through a hostPath volume; whether a
/// hostNetwork pod reaches a listener on the host's 127.0.0.1), then down whatever happened.
pub fn smoke(workspace: &Workspace, state: &Path) -> Result<()> {
    image(workspace, state, None)?;
    let _cluster = Cluster { workspace, state };
    up(workspace, state)?;
    crate::run(
        script(workspace, "smoke.sh")
            .env("KUBECONFIG", kubeconfig(state))
            .env("KSCEN_IMAGE", image_reference(workspace))
            .env("SMOKE_DIR", state.join("smoke")),
    )
}
