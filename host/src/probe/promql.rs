//! Answers of a Prometheus server's instant-query API (`GET /api/v1/query`), as documented at
//! https://prometheus.io/docs/prometheus/latest/querying/api/ — vector and scalar results become
//! samples; range vectors and strings are refused (a probe reads one value per series).

use serde::Deserialize;

use super::text::parse_value;
use super::Sample;

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<Series>),
    Scalar(Point),
    // Refused whole: their payload is only skipped over.
    Matrix(#[allow(dead_code)] serde::de::IgnoredAny),
    String(#[allow(dead_code)] serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: std::collections::BTreeMap<String, String>,
    value: Point,
}

/// `[<unix seconds>, "<value>"]`: the value is a string so NaN and ±Inf survive JSON.
#[derive(Deserialize)]
struct Point(#[allow(dead_code)] f64, String);

/// Parses an API answer (success or error envelope). `query` names samples without `__name__`
/// (aggregations such as `sum(...)` drop it).
pub fn parse(body: &str, query: &str) -> Result<Vec<Sample>, String> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|e| format!("not a Prometheus API answer ({e})"))?;
    if envelope.status != "success" {
        return Err(format!(
            "query failed: {}: {}",
            envelope.error_type.as_deref().unwrap_or("error"),
            envelope.error.as_deref().unwrap_or("no message")
        ));
    }
    match envelope.data.ok_or("a success answer without data")? {
        Data::Vector(series) => series
            .into_iter()
            .map(|mut s| {
                let name = s.metric.remove("__name__").unwrap_or_else(|| query.to_string());
                Ok(Sample { name, labels: s.metric.into_iter().collect(), value: parse_value(&s.value.1)? })
            })
            .collect(),
        Data::Scalar(point) => Ok(vec![Sample { name: query.to_string(), labels: Vec::new(), value: parse_value(&point.1)? }]),
        Data::Matrix(_) => Err("the query returned a range vector: use an instant query (no `[5m]` selector outside a function)".into()),
        Data::String(_) => Err("the query returned a string, not a number".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_from_the_api_docs() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1435781451.781,"1"]},
            {"metric":{"__name__":"up","job":"node","instance":"localhost:9100"},"value":[1435781451.781,"0"]}]}}"#;
        let samples = parse(body, "up").unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].name, "up");
        assert_eq!(
            samples[0].labels,
            vec![
                ("instance".into(), "localhost:9090".into()),
                ("job".into(), "prometheus".into())
            ]
        );
        assert_eq!(samples[1].value, 0.0);
    }

    #[test]
    fn aggregations_are_named_by_the_query_and_nan_survives() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"NaN"]}]}}"#;
        let samples = parse(body, "sum(rate(x[5m]))").unwrap();
        assert_eq!(samples[0].name, "sum(rate(x[5m]))");
        assert!(samples[0].value.is_nan());
    }

    #[test]
    fn a_scalar() {
        let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"+Inf"]}}"#;
        assert_eq!(parse(body, "1/0").unwrap()[0].value, f64::INFINITY);
    }

    #[test]
    fn errors_and_unsupported_results_explain_themselves() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4: unexpected end of input"}"#;
        assert_eq!(
            parse(body, "up{").unwrap_err(),
            "query failed: bad_data: parse error at char 4: unexpected end of input"
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#;
        assert!(parse(matrix, "up[5m]")
            .unwrap_err()
            .contains("range vector"));
        assert!(parse("<html>", "up")
            .unwrap_err()
            .contains("not a Prometheus API answer"));
    }
}
