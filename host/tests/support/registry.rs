//! A real OCI registry for the tests that push and pull packs: Docker Distribution (Debian's
//! `docker-registry`) on a free loopback port, storing into a temporary folder.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A Docker Distribution registry on a free loopback port, storing into a temporary folder,
/// stopped on drop. None when it is not installed (an error on CI, where `.ci/run` installs it).
pub struct Registry {
    process: Child,
    pub address: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Option<Registry> {
        let Ok(binary) = which_registry() else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but docker-registry is not installed (apt-get install docker-registry)"
            );
            eprintln!("skipped: docker-registry is not installed");
            return None;
        };
        let storage = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n  secret: kscen-test\n\
                 log:\n  level: warn\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let process = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry {
            process,
            address,
            _storage: storage,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(&registry.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on {} within 20 s",
                registry.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }
}

impl Registry {
    /// `kscen pack push` of the sandbox's `acme.kpack` to `REPOSITORY:1.0.0` here; returns the
    /// digest kscen printed, `sha256:…`.
    pub fn push(&self, world: &crate::support::Sandbox, repository: &str) -> String {
        let reference = format!("{}/{repository}:1.0.0", self.address);
        let pushed = world.ok(&["pack", "push", "acme.kpack", &reference, "--plain-http"]);
        pushed
            .split(['(', ')'])
            .find(|part| part.starts_with("sha256:"))
            .unwrap_or_else(|| panic!("no digest in {pushed}"))
            .to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn which_registry() -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("docker-registry"))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}
