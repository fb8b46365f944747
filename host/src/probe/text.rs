//! The Prometheus text exposition format (version 0.0.4), as JMX-exporter and node-exporter
//! endpoints serve it: `name{label="value",...} value [timestamp]`, `#` comments (HELP / TYPE).
//!
//! Hand-rolled rather than a crate: the format is small, and label values need real unescaping
//! (`\"`, `\\`, `\n`) with quote-aware splitting — MM2 client ids hold `->`, `|` and commas.

use super::Sample;

/// Parses an exposition body, keeping samples whose name starts with `prefix` (empty keeps all).
/// A malformed line is an error naming its line number: a half-read scrape would mislead.
pub fn parse(body: &str, prefix: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (index, raw) in body.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Cheap filter before the full parse: most of a 1,600-line scrape is usually unwanted.
        if !line.starts_with(prefix) {
            continue;
        }
        let sample =
            parse_line(line).map_err(|why| format!("line {}: {why}: {line:?}", index + 1))?;
        if sample.name.starts_with(prefix) {
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if rest.starts_with('{') {
        let (parsed, after) = parse_labels(&rest[1..])?;
        labels = parsed;
        rest = after;
    }
    // The value, then an optional timestamp (ms since the epoch) that a probe has no use for.
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value)?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing text after the timestamp".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y"}` (after the opening brace); returns the labels and the text after `}`.
type Labels = Vec<(String, String)>;

fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(after) = text.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = text.find('=').ok_or("label without `=`")?;
        let name = text[..eq].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid label name {name:?}"));
        }
        let after_eq = text[eq + 1..].trim_start();
        let quoted = after_eq.strip_prefix('"').ok_or("label value not quoted")?;
        let (value, after_value) = unescape_until_quote(quoted)?;
        labels.push((name.to_string(), value));
        text = after_value.trim_start();
        if let Some(after_comma) = text.strip_prefix(',') {
            text = after_comma;
        } else if !text.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

/// Reads a label value up to its closing quote, resolving `\\`, `\"` and `\n`.
fn unescape_until_quote(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                // The format defines only those three; keep anything else verbatim.
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value".into())
}

/// Go-style floats plus the spellings the format allows: `NaN`, `+Inf`, `-Inf`.
pub(crate) fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("invalid value {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An excerpt of a real lab worker's JMX-exporter scrape.
    const LAB: &str = include_str!("testdata/lab-worker.prom");

    fn label<'a>(sample: &'a Sample, name: &str) -> &'a str {
        sample
            .labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn a_real_worker_scrape_parses() {
        let all = parse(LAB, "").unwrap();
        assert_eq!(all.len(), 9);
        let heap = all
            .iter()
            .find(|s| s.name == "jvm_memory_used_bytes")
            .unwrap();
        assert_eq!(label(heap, "area"), "heap");
        assert_eq!(heap.value, 7.9325e7);
        let consumer = all
            .iter()
            .find(|s| s.name.starts_with("kafka_consumer"))
            .unwrap();
        assert_eq!(
            label(consumer, "client_id"),
            "source->target|mirror-source-3|replication-consumer"
        );
        let leader = all
            .iter()
            .find(|s| s.name == "kafka_connect_worker_rebalance_leader")
            .unwrap();
        assert_eq!(label(leader, "leader"), "http://127.0.0.1:38083/");
    }

    #[test]
    fn the_prefix_filters_and_nan_is_kept() {
        let mm2 = parse(LAB, "kafka_connect_mirror_").unwrap();
        assert_eq!(mm2.len(), 3);
        assert!(mm2[0].value.is_nan());
        assert_eq!(label(&mm2[1], "partition"), "7");
    }

    #[test]
    fn escapes_infinities_and_timestamps() {
        let body = "# TYPE x gauge\n\
                    x{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\", then\\nleave\"} +Inf 1700000000000\n\
                    y -Inf\n\
                    z{} 3e-2\n\
                    w{a=\"1\",} 2\n";
        let samples = parse(body, "").unwrap();
        assert_eq!(samples[0].labels[0].1, "C:\\dir");
        assert_eq!(samples[0].labels[1].1, "say \"hi\", then\nleave");
        assert_eq!(samples[0].value, f64::INFINITY);
        assert_eq!(samples[1].value, f64::NEG_INFINITY);
        assert!(samples[2].labels.is_empty());
        assert_eq!(samples[2].value, 0.03);
        assert_eq!(samples[3].labels, vec![("a".to_string(), "1".to_string())]);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let error = parse("ok 1\nbad{a=\"x} 1\n", "").unwrap_err();
        assert!(
            error.starts_with("line 2: unterminated label value"),
            "{error}"
        );
        assert!(parse("m{a=x} 1", "").unwrap_err().contains("not quoted"));
        assert!(parse("m one", "").unwrap_err().contains("invalid value"));
        assert!(parse("m 1 soon", "")
            .unwrap_err()
            .contains("invalid timestamp"));
    }
}
