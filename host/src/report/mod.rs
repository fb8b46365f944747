//! How results are shown: the console, live Prometheus metrics, and `kscen report` (Markdown,
//! HTML, CSV).

pub mod campaign;
pub mod command;
pub mod compare;
pub mod console;
pub mod csv;
mod diagram_svg;
pub mod html;
pub mod live_consumers;
pub mod live_metrics;
pub mod markdown;
pub mod matrix;
pub mod mermaid;
pub mod rows;
mod seen;
pub mod verdict;
