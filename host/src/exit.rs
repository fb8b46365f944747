//! The exit codes of every kscen command, as `--help` and the README list them.

/// The run completed (and, once thresholds exist, passed them).
pub const EXIT_OK: u8 = 0;
/// Bad input or an environment problem; nothing or little ran.
pub const EXIT_ERROR: u8 = 1;
/// The run completed but a threshold failed or could not be measured.
pub const EXIT_THRESHOLD_FAILED: u8 = 2;
/// The plugin failed: returned an error, trapped, or hit a limit. The partial result is written.
pub const EXIT_PLUGIN_FAILED: u8 = 3;
/// The operator interrupted the run (Ctrl-C). The partial result is written.
pub const EXIT_INTERRUPTED: u8 = 130;
