//! Verifying a pack: the manifest's signature against the trust store, then every file against
//! the manifest. The signature comes first so nothing unsigned is trusted even for parsing
//! decisions beyond syntax.

use anyhow::{bail, Context, Result};

use super::archive::{PackArchive, SIGNATURE_FILE};
use super::digest;
use super::manifest::Manifest;
use super::minisign::{KeyId, Signature};
use super::trust::TrustStore;

/// Who vouches for a pack.
#[derive(Debug, Clone, PartialEq)]
pub enum Publisher {
    /// signed by a key of the trust store, and the signature holds
    Trusted { name: String, key_id: KeyId },
    /// signed by a key the trust store does not hold (accepted only with --allow-unsigned)
    UnknownKey(KeyId),
    /// no signature (accepted only with --allow-unsigned)
    Unsigned,
}

impl std::fmt::Display for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Publisher::Trusted { name, key_id } => write!(f, "{name} (key {key_id})"),
            Publisher::UnknownKey(key_id) => write!(f, "untrusted key {key_id}"),
            Publisher::Unsigned => write!(f, "unsigned"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    pub publisher: Publisher,
}

/// The trusted comment a pack's signature carries (informational; the manifest is what is signed).
pub fn trusted_comment(manifest: &Manifest) -> String {
    format!("kscen pack {}", manifest.id())
}

/// Checks the signature of `manifest` bytes. A signature that is present but does not hold is
/// refused even with `allow_unsigned`: that is tampering, not a missing signature.
pub fn check_signature(
    manifest: &[u8],
    signature: Option<&str>,
    trust: &TrustStore,
    allow_unsigned: bool,
) -> Result<Publisher> {
    let Some(signature) = signature else {
        if allow_unsigned {
            return Ok(Publisher::Unsigned);
        }
        bail!(
            "the pack is unsigned (it has no {SIGNATURE_FILE}); ask its publisher for a signed pack, \
             or pass --allow-unsigned to accept it anyway (digests are still checked)"
        );
    };
    let signature = Signature::parse(signature)
        .with_context(|| format!("the pack's {SIGNATURE_FILE} is damaged"))?;
    let Some(trusted) = trust.find(signature.key_id) else {
        if allow_unsigned {
            return Ok(Publisher::UnknownKey(signature.key_id));
        }
        bail!(
            "the pack is signed by key {}, which is not trusted ({}); if you trust its publisher, \
             add their public key with `kscen pack trust add NAME KEYFILE`, or pass --allow-unsigned",
            signature.key_id,
            trust.describe()
        );
    };
    trusted.key.verify(manifest, &signature).with_context(|| {
        format!(
            "the signature of manifest.json by {} (key {}) is invalid: the manifest was changed \
             after it was signed; refusing the pack",
            trusted.name, trusted.key.id
        )
    })?;
    Ok(Publisher::Trusted {
        name: trusted.name.clone(),
        key_id: trusted.key.id,
    })
}

/// Signature, manifest checks, then every digest; the first failure is the error.
pub fn verify(archive: &PackArchive, trust: &TrustStore, allow_unsigned: bool) -> Result<Verified> {
    let publisher = check_signature(
        &archive.manifest,
        archive.signature.as_deref(),
        trust,
        allow_unsigned,
    )?;
    let manifest = Manifest::parse(&archive.manifest)?;
    digest::check_all(&manifest, &archive.files)?;
    Ok(Verified {
        manifest,
        publisher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::minisign::SecretKey;
    use crate::pack::trust::TrustedKey;

    fn store_with(secret: &SecretKey) -> TrustStore {
        TrustStore {
            dir: "/trust".into(),
            keys: vec![TrustedKey {
                name: "acme".into(),
                key: secret.public(),
            }],
        }
    }

    #[test]
    fn trusted_untrusted_unsigned_and_tampered() {
        let secret = SecretKey::generate().unwrap();
        let store = store_with(&secret);
        let signature = secret.sign(b"manifest", "c").to_file_text();
        let publisher = check_signature(b"manifest", Some(&signature), &store, false).unwrap();
        assert_eq!(
            publisher,
            Publisher::Trusted {
                name: "acme".into(),
                key_id: secret.id
            }
        );

        let tampered = check_signature(b"manifesT", Some(&signature), &store, true).unwrap_err();
        assert!(format!("{tampered:#}").contains("invalid"), "{tampered:#}");

        let unsigned = check_signature(b"manifest", None, &store, false).unwrap_err();
        assert!(
            unsigned.to_string().contains("--allow-unsigned"),
            "{unsigned}"
        );
        assert_eq!(
            check_signature(b"manifest", None, &store, true).unwrap(),
            Publisher::Unsigned
        );

        let stranger = SecretKey::generate().unwrap();
        let foreign = stranger.sign(b"manifest", "c").to_file_text();
        let error = check_signature(b"manifest", Some(&foreign), &store, false).unwrap_err();
        assert!(
            error.to_string().contains("not trusted") && error.to_string().contains("acme"),
            "{error}"
        );
    }
}
