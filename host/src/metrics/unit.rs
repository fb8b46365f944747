//! What a plugin's number is measured in. The WIT contract (0.1.0, frozen) gives a custom
//! histogram no unit field, only "microseconds, or any unit the name says": the name's suffix is
//! the declaration. Figures carry their unit as text; both are read through [`Unit::of_symbol`].

/// A unit kscen knows how to convert or label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Bytes,
    Records,
    /// a plain number: no known unit
    Count,
}

impl Unit {
    /// The unit a custom histogram's name declares: `roundtrip_us`, `fetch-ms`, `batch_bytes`.
    /// The suffix follows the last `_` or `-`; a name without a known suffix is a plain count.
    pub fn of_histogram(name: &str) -> Unit {
        name.rsplit_once(['_', '-'])
            .and_then(|(_, suffix)| Unit::of_symbol(suffix))
            .unwrap_or(Unit::Count)
    }

    /// A unit written out (a histogram suffix, a figure's unit); none when kscen does not know it.
    pub fn of_symbol(symbol: &str) -> Option<Unit> {
        match symbol {
            "ns" => Some(Unit::Nanoseconds),
            "us" | "µs" => Some(Unit::Microseconds),
            "ms" => Some(Unit::Milliseconds),
            "s" => Some(Unit::Seconds),
            "bytes" => Some(Unit::Bytes),
            "records" => Some(Unit::Records),
            _ => None,
        }
    }

    /// How results and thresholds label the unit; empty for a plain count.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Nanoseconds => "ns",
            Unit::Microseconds => "us",
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
            Unit::Bytes => "bytes",
            Unit::Records => "records",
            Unit::Count => "",
        }
    }

    /// For messages: `in us`, `a plain count`.
    pub fn described(self) -> String {
        match self.symbol() {
            "" => "a plain count".to_string(),
            symbol => format!("in {symbol}"),
        }
    }

    fn nanoseconds(self) -> Option<f64> {
        match self {
            Unit::Nanoseconds => Some(1.0),
            Unit::Microseconds => Some(1e3),
            Unit::Milliseconds => Some(1e6),
            Unit::Seconds => Some(1e9),
            Unit::Bytes | Unit::Records | Unit::Count => None,
        }
    }

    pub fn is_duration(self) -> bool {
        self.nanoseconds().is_some()
    }

    /// `value` (in this unit) in `to`. Durations convert into each other; other numbers compare
    /// as they are (a figure's free-text unit cannot be checked); a duration never becomes a
    /// number of something else.
    pub fn convert(self, value: f64, to: Unit) -> Option<f64> {
        match (self.nanoseconds(), to.nanoseconds()) {
            (Some(from), Some(to)) => Some(value * from / to),
            (None, None) => Some(value),
            _ => None,
        }
    }

    /// The unit summaries show it in: durations in ms, like every other latency in a report.
    pub fn shown(self) -> Unit {
        if self.is_duration() {
            Unit::Milliseconds
        } else {
            self
        }
    }

    /// `value` (in this unit) as summaries write it, in [`Unit::shown`].
    pub fn show(self, value: f64) -> String {
        let shown = self.shown();
        let value = self.convert(value, shown).expect("shown keeps the kind");
        if shown.is_duration() {
            format!("{value:.3}")
        } else {
            format!("{value:.0}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_suffix_declares_the_unit() {
        for (name, unit) in [
            ("roundtrip_us", Unit::Microseconds),
            ("single-produce-us", Unit::Microseconds),
            ("fetch_ms", Unit::Milliseconds),
            ("clock_ns", Unit::Nanoseconds),
            ("pause_s", Unit::Seconds),
            ("batch_bytes", Unit::Bytes),
            ("poll-records", Unit::Records),
            // no separator, an unknown suffix, or a suffix that is only part of a word
            ("us", Unit::Count),
            ("retries", Unit::Count),
            ("queue_depth", Unit::Count),
            ("status", Unit::Count),
        ] {
            assert_eq!(Unit::of_histogram(name), unit, "{name}");
        }
    }

    #[test]
    fn durations_convert_and_other_kinds_do_not_mix_with_them() {
        assert_eq!(
            Unit::Milliseconds.convert(50.0, Unit::Microseconds),
            Some(50_000.0)
        );
        assert_eq!(
            Unit::Seconds.convert(2.0, Unit::Milliseconds),
            Some(2_000.0)
        );
        assert_eq!(
            Unit::Nanoseconds.convert(1500.0, Unit::Microseconds),
            Some(1.5)
        );
        assert_eq!(Unit::Records.convert(7.0, Unit::Count), Some(7.0));
        assert_eq!(Unit::Milliseconds.convert(1.0, Unit::Bytes), None);
        assert_eq!(Unit::Count.convert(1.0, Unit::Seconds), None);
    }

    #[test]
    fn summaries_show_durations_in_ms_and_the_rest_as_is() {
        assert_eq!(Unit::Microseconds.show(1500.0), "1.500");
        assert_eq!(Unit::Seconds.show(2.0), "2000.000");
        assert_eq!(Unit::Bytes.show(512.0), "512");
        assert_eq!(Unit::Bytes.shown().symbol(), "bytes");
        assert_eq!(Unit::Nanoseconds.shown().symbol(), "ms");
    }
}
