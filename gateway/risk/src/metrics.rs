//! Risk's business metrics in the Prometheus text format, read from the
//! risk views when `/metrics` is scraped: alerts raised per rule and the
//! cases still open.

use edge::AppState;
use readmodel::risk;

/// The metrics' text, appended to the server's exposition (empty if the
/// read model cannot answer now: a scrape never waits for it).
pub async fn render(state: &AppState) -> String {
    let Ok((counts, _)) = state.readmodel.query(risk::counts).await else {
        return String::new();
    };
    let mut text = String::new();
    text.push_str("# HELP risk_alerts_total AML alerts raised, by rule\n");
    text.push_str("# TYPE risk_alerts_total counter\n");
    for (rule, count) in counts.by_rule {
        text.push_str(&format!("risk_alerts_total{{rule=\"{rule}\"}} {count}\n"));
    }
    text.push_str("# HELP risk_cases_open Risk cases not resolved\n");
    text.push_str("# TYPE risk_cases_open gauge\n");
    text.push_str(&format!("risk_cases_open {}\n", counts.open_cases));
    text
}
