//! Results and how they are shown: the versioned JSON result and the console.

pub mod console;
pub mod result;
