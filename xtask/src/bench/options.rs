//! `cargo xtask bench` options.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

pub const USAGE: &str =
    "usage: cargo xtask bench [--quick] [--only SECTION[,SECTION...]] [--repeat N] [--out FILE]

sections: throughput, rate, stall, memory, plugin, micro, consume, shards (default: all, in
          that order of report)
  --quick      short runs, for developing the bench itself (figures are not comparable)
  --repeat N   runs per tool and throughput or consume case, and of each side of the shards
               section; the median is reported (default 3, quick 1)
  --out FILE   where to write the JSON (default bench/results/<date>-<commit>.json)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Throughput,
    Rate,
    Stall,
    Memory,
    Plugin,
    Micro,
    Consume,
    Shards,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::Throughput,
        Section::Rate,
        Section::Stall,
        Section::Memory,
        Section::Plugin,
        Section::Micro,
        Section::Consume,
        Section::Shards,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::Throughput => "throughput",
            Section::Rate => "rate",
            Section::Stall => "stall",
            Section::Memory => "memory",
            Section::Plugin => "plugin",
            Section::Micro => "micro",
            Section::Consume => "consume",
            Section::Shards => "shards",
        }
    }

    /// Sections that need the lab's source broker.
    pub fn needs_lab(self) -> bool {
        matches!(
            self,
            Section::Throughput
                | Section::Rate
                | Section::Stall
                | Section::Memory
                | Section::Consume
                | Section::Shards
        )
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub sections: Vec<Section>,
    pub repeat: usize,
    pub out: Option<PathBuf>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut quick = false;
        let mut only: Option<Vec<Section>> = None;
        let mut repeat = None;
        let mut out = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .with_context(|| format!("{flag} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--quick" => quick = true,
                "--only" => only = Some(parse_sections(value("--only")?)?),
                "--repeat" => {
                    let n: usize = value("--repeat")?
                        .parse()
                        .context("--repeat takes a positive number")?;
                    if n == 0 {
                        bail!("--repeat takes a positive number");
                    }
                    repeat = Some(n);
                }
                "--out" => out = Some(PathBuf::from(value("--out")?)),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown option {other:?}\n{USAGE}"),
            }
        }
        Ok(Options {
            quick,
            sections: only.unwrap_or_else(|| Section::ALL.to_vec()),
            repeat: repeat.unwrap_or(if quick { 1 } else { 3 }),
            out,
        })
    }

    pub fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    pub fn needs_lab(&self) -> bool {
        self.sections.iter().any(|s| s.needs_lab())
    }
}

fn parse_sections(list: &str) -> Result<Vec<Section>> {
    list.split(',')
        .map(|name| {
            Section::ALL
                .into_iter()
                .find(|s| s.name() == name.trim())
                .with_context(|| format!("unknown section {name:?}\n{USAGE}"))
        })
        .collect()
}
