//! Signed plugin packs: sharing scenarios and their components between teams and organisations.
//!
//! A pack is a gzip-compressed tar (`archive`) of a JSON `manifest` that pins every component and
//! scenario file by sha256 and lists what each plugin requests, a minisign-format Ed25519
//! signature of that manifest (`minisign`), and the files. `verify` checks the signature against
//! the `trust` store and the files against the manifest; `install` unpacks verified packs;
//! `run_ref` resolves `kscen run <pack>/<scenario>` and re-checks before the run; `pinned` resolves
//! `kscen run <registry>/<repository>@sha256:<digest>/<scenario>` (pulled once per digest); `oci` pushes and
//! pulls packs to and from OCI registries. See docs/packs.md.

pub mod archive;
pub mod build;
pub mod command;
pub mod digest;
pub mod install;
pub mod manifest;
pub mod minisign;
pub mod oci;
pub mod pinned;
pub mod run_ref;
pub mod trust;
pub mod verify;

pub use command::{run, PackCommand};
pub use run_ref::load_scenario;
