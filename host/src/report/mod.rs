//! How results are shown: the console, live Prometheus metrics, and `kscen report` (Markdown,
//! HTML, CSV).

pub mod campaign;
pub mod command;
pub mod compare;
pub mod console;
pub mod csv;
pub mod html;
pub mod live_consumers;
pub mod live_metrics;
pub mod markdown;
pub mod matrix;
pub mod mermaid;
pub mod rows;
pub mod verdict;
