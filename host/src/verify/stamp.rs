//! The stamp every tracked record carries in the first bytes of its value: which run and job
//! sent it, its sequence number, and its intended send time on the run's clock.

pub const STAMP_LEN: usize = 32;
const MAGIC: &[u8; 4] = b"KSC1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run: u64,
    pub job: u32,
    pub seq: u64,
    pub intended_ns: u64,
}

impl Stamp {
    /// Writes the stamp over the start of `value` (which must hold at least `STAMP_LEN` bytes).
    pub fn write(&self, value: &mut [u8]) {
        value[..4].copy_from_slice(MAGIC);
        value[4..12].copy_from_slice(&self.run.to_be_bytes());
        value[12..16].copy_from_slice(&self.job.to_be_bytes());
        value[16..24].copy_from_slice(&self.seq.to_be_bytes());
        value[24..32].copy_from_slice(&self.intended_ns.to_be_bytes());
    }

    pub fn read(value: &[u8]) -> Option<Stamp> {
        if value.len() < STAMP_LEN || &value[..4] != MAGIC {
            return None;
        }
        let u64_at = |at: usize| u64::from_be_bytes(value[at..at + 8].try_into().expect("8 bytes"));
        Some(Stamp {
            run: u64_at(4),
            job: u32::from_be_bytes(value[12..16].try_into().expect("4 bytes")),
            seq: u64_at(16),
            intended_ns: u64_at(24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_round_trips_and_foreign_records_are_ignored() {
        let stamp = Stamp {
            run: 0xdead_beef,
            job: 7,
            seq: 123_456_789,
            intended_ns: 42,
        };
        let mut value = vec![b'A'; 100];
        stamp.write(&mut value);
        assert_eq!(Stamp::read(&value), Some(stamp));
        assert_eq!(&value[STAMP_LEN..], &[b'A'; 100 - STAMP_LEN][..]);
        assert_eq!(Stamp::read(b"hello"), None);
        assert_eq!(Stamp::read(&[b'A'; 64]), None);
    }
}
