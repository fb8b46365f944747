//! Ed25519 keys and signatures in minisign's file formats, on ed25519-dalek.
//!
//! Why minisign's formats: organisations that already sign releases with minisign can trust and
//! verify packs with the keys and tool they have (`minisign -Vm manifest.json -p org.pub`), and the
//! formats are small, documented and versioned by algorithm tags. Why not the `minisign` crate: it
//! brings its own Ed25519 code, scrypt and password prompting; kscen needs only these few encodings
//! on top of the audited ed25519-dalek. Signatures are minisign's default "ED" mode: Ed25519 over
//! the BLAKE2b-512 hash of the manifest, plus a global signature binding the trusted comment.
//! Secret keys are read and written unencrypted (minisign `-W`); password-protected minisign keys
//! are refused with a message saying so.

use anyhow::{bail, ensure, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// Public keys carry the plain Ed25519 tag; signatures the prehashed one.
const ALG_ED25519: [u8; 2] = *b"Ed";
const ALG_PREHASHED: [u8; 2] = *b"ED";
const CHECKSUM_BLAKE2B: [u8; 2] = *b"B2";
const KDF_NONE: [u8; 2] = [0, 0];
const KDF_SCRYPT: [u8; 2] = *b"Sc";
const UNTRUSTED: &str = "untrusted comment: ";
const TRUSTED: &str = "trusted comment: ";

/// The 8 random bytes minisign puts in keys and signatures to say which key signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl std::fmt::Display for KeyId {
    /// As minisign prints it (the little-endian number in upper-case hex), so IDs can be compared.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PublicKey {
    pub id: KeyId,
    key: VerifyingKey,
}

pub struct SecretKey {
    pub id: KeyId,
    key: SigningKey,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub key_id: KeyId,
    signature: [u8; 64],
    pub trusted_comment: String,
    global_signature: [u8; 64],
}

/// Lines that are not comments: the base64 payloads of a key or signature file.
fn payload_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(UNTRUSTED))
}

fn decode(line: &str, what: &str, len: usize) -> Result<Vec<u8>> {
    let bytes = BASE64
        .decode(line)
        .with_context(|| format!("{what}: invalid base64"))?;
    ensure!(
        bytes.len() == len,
        "{what}: {} bytes where {len} were expected",
        bytes.len()
    );
    Ok(bytes)
}

impl PublicKey {
    /// A minisign public key file, or just its base64 line.
    pub fn parse(text: &str) -> Result<PublicKey> {
        let line = payload_lines(text)
            .next()
            .context("not a minisign public key: no key line")?;
        let bytes = decode(line, "not a minisign public key", 42)?;
        ensure!(
            bytes[0..2] == ALG_ED25519,
            "unsupported public key algorithm {:?} (only Ed25519 keys are supported)",
            String::from_utf8_lossy(&bytes[0..2])
        );
        let key = VerifyingKey::from_bytes(bytes[10..42].try_into().expect("32 bytes"))
            .context("the public key is not a valid Ed25519 point")?;
        Ok(PublicKey {
            id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            key,
        })
    }

    pub fn to_file_text(&self, comment: &str) -> String {
        let mut bytes = Vec::with_capacity(42);
        bytes.extend_from_slice(&ALG_ED25519);
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{UNTRUSTED}{comment}\n{}\n", BASE64.encode(bytes))
    }

    /// Checks both of minisign's signatures: over the message hash, and over that signature plus
    /// the trusted comment (so the comment cannot be swapped either).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<()> {
        ensure!(
            signature.key_id == self.id,
            "the signature is by key {}, not by key {}",
            signature.key_id,
            self.id
        );
        let hash = Blake2b512::digest(message);
        self.key
            .verify_strict(
                &hash,
                &ed25519_dalek::Signature::from_bytes(&signature.signature),
            )
            .map_err(|_| anyhow::anyhow!("the signature does not match the signed content"))?;
        self.key
            .verify_strict(
                &signature.global_input(),
                &ed25519_dalek::Signature::from_bytes(&signature.global_signature),
            )
            .map_err(|_| anyhow::anyhow!("the signature's trusted comment was altered"))?;
        Ok(())
    }
}

impl SecretKey {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Result<SecretKey> {
        use rand::TryRngCore;
        let mut seed = [0u8; 32];
        let mut id = [0u8; 8];
        let mut os = rand::rngs::OsRng;
        os.try_fill_bytes(&mut seed)
            .and_then(|()| os.try_fill_bytes(&mut id))
            .context("the operating system's random source failed")?;
        Ok(SecretKey {
            id: KeyId(id),
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// minisign's secret key layout: algorithm, KDF and checksum tags, KDF parameters (unused
    /// here), then key ID, the 64-byte Ed25519 secret and a BLAKE2b-256 checksum of them.
    pub fn parse(text: &str) -> Result<SecretKey> {
        let line = payload_lines(text)
            .next()
            .context("not a minisign secret key: no key line")?;
        let bytes = decode(line, "not a minisign secret key", 158)?;
        ensure!(
            bytes[0..2] == ALG_ED25519,
            "unsupported secret key algorithm (only Ed25519 keys are supported)"
        );
        if bytes[2..4] == KDF_SCRYPT {
            bail!(
                "this minisign secret key is password-protected, which kscen does not read; \
                 create an unprotected one with `kscen pack keygen` (or `minisign -G -W`) and keep it \
                 in a secret store"
            );
        }
        ensure!(
            bytes[2..4] == KDF_NONE && bytes[4..6] == CHECKSUM_BLAKE2B,
            "unsupported secret key encoding"
        );
        let keynum_sk = &bytes[54..158];
        let id = KeyId(keynum_sk[0..8].try_into().expect("8 bytes"));
        let secret: [u8; 64] = keynum_sk[8..72].try_into().expect("64 bytes");
        // minisign 0.11 `-G -W` leaves the checksum of unprotected keys all zero; accept that, as
        // minisign does. The public half must still match the secret half below.
        let stored = &keynum_sk[72..104];
        ensure!(
            stored.iter().all(|b| *b == 0) || checksum(&id, &secret)[..] == *stored,
            "the secret key's checksum does not match: the file is damaged"
        );
        let key = SigningKey::from_keypair_bytes(&secret)
            .context("the secret key's public half does not match its secret half")?;
        Ok(SecretKey { id, key })
    }

    pub fn to_file_text(&self, comment: &str) -> String {
        let secret = self.key.to_keypair_bytes();
        let mut bytes = Vec::with_capacity(158);
        bytes.extend_from_slice(&ALG_ED25519);
        bytes.extend_from_slice(&KDF_NONE);
        bytes.extend_from_slice(&CHECKSUM_BLAKE2B);
        bytes.extend_from_slice(&[0u8; 32 + 8 + 8]); // KDF salt, opslimit, memlimit: no KDF
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(&secret);
        bytes.extend_from_slice(&checksum(&self.id, &secret));
        format!("{UNTRUSTED}{comment}\n{}\n", BASE64.encode(bytes))
    }

    pub fn sign(&self, message: &[u8], trusted_comment: &str) -> Signature {
        // A newline in the comment would break the file format; minisign forbids it too.
        let trusted_comment = trusted_comment.replace(['\n', '\r'], " ");
        let hash = Blake2b512::digest(message);
        let mut signature = Signature {
            key_id: self.id,
            signature: self.key.sign(&hash).to_bytes(),
            trusted_comment,
            global_signature: [0; 64],
        };
        signature.global_signature = self.key.sign(&signature.global_input()).to_bytes();
        signature
    }
}

fn checksum(id: &KeyId, secret: &[u8; 64]) -> [u8; 32] {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(ALG_ED25519);
    hasher.update(id.0);
    hasher.update(secret);
    hasher.finalize().into()
}

impl Signature {
    fn global_input(&self) -> Vec<u8> {
        let mut input = self.signature.to_vec();
        input.extend_from_slice(self.trusted_comment.as_bytes());
        input
    }

    pub fn parse(text: &str) -> Result<Signature> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        let mut next = |what: &str| {
            lines
                .next()
                .with_context(|| format!("not a minisign signature: no {what} line"))
        };
        ensure!(
            next("comment")?.starts_with(UNTRUSTED),
            "not a minisign signature: it must start with an untrusted comment"
        );
        let bytes = decode(next("signature")?, "not a minisign signature", 74)?;
        if bytes[0..2] != ALG_PREHASHED {
            bail!(
                "unsupported signature algorithm {:?}: kscen accepts minisign's default prehashed \
                 Ed25519 signatures (\"ED\") only",
                String::from_utf8_lossy(&bytes[0..2])
            );
        }
        let trusted_comment = next("trusted comment")?
            .strip_prefix(TRUSTED)
            .context("not a minisign signature: the third line must be the trusted comment")?
            .to_string();
        let global = decode(next("global signature")?, "not a minisign signature", 64)?;
        Ok(Signature {
            key_id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            signature: bytes[10..74].try_into().expect("64 bytes"),
            trusted_comment,
            global_signature: global.try_into().expect("64 bytes"),
        })
    }

    pub fn to_file_text(&self) -> String {
        let mut bytes = Vec::with_capacity(74);
        bytes.extend_from_slice(&ALG_PREHASHED);
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.signature);
        format!(
            "{UNTRUSTED}signature from kscen secret key {}\n{}\n{TRUSTED}{}\n{}\n",
            self.key_id,
            BASE64.encode(bytes),
            self.trusted_comment,
            BASE64.encode(self.global_signature)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_signatures_round_trip_through_their_files() {
        let secret = SecretKey::generate().unwrap();
        let reread = SecretKey::parse(&secret.to_file_text("test key")).unwrap();
        assert_eq!(reread.id, secret.id);
        let public = PublicKey::parse(&secret.public().to_file_text("test key")).unwrap();
        assert_eq!(public, secret.public());
        let signature = reread.sign(b"manifest", "pack acme@1.0.0");
        let signature = Signature::parse(&signature.to_file_text()).unwrap();
        public.verify(b"manifest", &signature).unwrap();
        assert_eq!(signature.trusted_comment, "pack acme@1.0.0");
    }

    #[test]
    fn a_changed_message_comment_or_key_fails() {
        let secret = SecretKey::generate().unwrap();
        let signature = secret.sign(b"manifest", "comment");
        let error = secret.public().verify(b"manifesT", &signature).unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
        let mut altered = signature.clone();
        altered.trusted_comment = "other".into();
        let error = secret.public().verify(b"manifest", &altered).unwrap_err();
        assert!(error.to_string().contains("trusted comment"), "{error}");
        let other = SecretKey::generate().unwrap();
        let error = other.public().verify(b"manifest", &signature).unwrap_err();
        assert!(error.to_string().contains("not by key"), "{error}");
    }

    /// An independent implementation accepts our files: the formats really are minisign's.
    #[test]
    fn minisign_verifies_our_signatures() {
        let secret = SecretKey::generate().unwrap();
        let public =
            minisign_verify::PublicKey::decode(&secret.public().to_file_text("k")).unwrap();
        let signature = secret.sign(b"{\"name\":\"acme\"}\n", "pack acme@1.0.0");
        let theirs = minisign_verify::Signature::decode(&signature.to_file_text()).unwrap();
        public
            .verify(b"{\"name\":\"acme\"}\n", &theirs, false)
            .unwrap();
        assert!(public
            .verify(b"{\"name\":\"acmf\"}\n", &theirs, false)
            .is_err());
        assert_eq!(theirs.trusted_comment(), "pack acme@1.0.0");
    }

    #[test]
    fn damaged_or_protected_secret_keys_are_refused() {
        let text = SecretKey::generate().unwrap().to_file_text("k");
        let line = text.lines().nth(1).unwrap();
        let mut bytes = BASE64.decode(line).unwrap();
        bytes[100] ^= 1;
        let damaged = format!("{UNTRUSTED}k\n{}\n", BASE64.encode(&bytes));
        let error = SecretKey::parse(&damaged).err().unwrap();
        assert!(error.to_string().contains("checksum"), "{error}");
        let mut unchecked = BASE64.decode(line).unwrap();
        unchecked[126..158].fill(0);
        let unchecked = format!("{UNTRUSTED}k\n{}\n", BASE64.encode(&unchecked));
        assert!(
            SecretKey::parse(&unchecked).is_ok(),
            "minisign -W keys have no checksum"
        );
        bytes[2..4].copy_from_slice(&KDF_SCRYPT);
        let protected = format!("{UNTRUSTED}k\n{}\n", BASE64.encode(&bytes));
        let error = SecretKey::parse(&protected).err().unwrap();
        assert!(error.to_string().contains("password-protected"), "{error}");
    }
}
