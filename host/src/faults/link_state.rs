//! The state a link proxy (`kscen lab proxy`) reports after applying a cut or a restore: one line
//! `<open|cut> <pid>` in `<pid file>.state`, replaced atomically. The fault executor waits on it,
//! so `inject(link, cut)` returns only once the proxy has stopped forwarding. The PID in the line
//! keeps a state written by an earlier proxy process from being taken for the current one's.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Open,
    Cut,
}

impl LinkState {
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Open => "open",
            LinkState::Cut => "cut",
        }
    }
}

/// `<pid file>.state`: beside the pid file, so a profile needs no extra key for it.
pub fn state_file(pid_file: &Path) -> PathBuf {
    let mut name = pid_file.as_os_str().to_owned();
    name.push(".state");
    PathBuf::from(name)
}

/// Writes the state through a temporary file and a rename, so a reader never sees half a line.
pub fn write(path: &Path, pid: u32, state: LinkState) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{} {pid}\n", state.word()))?;
    std::fs::rename(&tmp, path)
}

/// The state and the PID of the proxy that wrote it; `None` if absent or unreadable.
pub fn read(path: &Path) -> Option<(LinkState, u32)> {
    parse(&std::fs::read_to_string(path).ok()?)
}

fn parse(text: &str) -> Option<(LinkState, u32)> {
    let mut words = text.split_whitespace();
    let state = match words.next()? {
        "open" => LinkState::Open,
        "cut" => LinkState::Cut,
        _ => return None,
    };
    Some((state, words.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = state_file(&dir.path().join("pid"));
        assert_eq!(file, dir.path().join("pid.state"));
        assert_eq!(read(&file), None);
        write(&file, 77, LinkState::Cut).unwrap();
        assert_eq!(read(&file), Some((LinkState::Cut, 77)));
        write(&file, 77, LinkState::Open).unwrap();
        assert_eq!(read(&file), Some((LinkState::Open, 77)));
    }

    #[test]
    fn garbage_is_no_state() {
        assert_eq!(parse("half"), None);
        assert_eq!(parse("cut"), None);
        assert_eq!(parse("open x"), None);
    }
}
