//! The cashier's business metrics in the Prometheus text format, read from
//! the cashier view when `/metrics` is scraped: deposits and withdrawals
//! per provider and state, and the approval queue's depth.

use edge::AppState;
use readmodel::cashier;

/// The metrics' text, appended to the server's exposition (empty if the
/// read model cannot answer now: a scrape never waits for it).
pub async fn render(state: &AppState) -> String {
    let Ok((counts, _)) = state.readmodel.query(cashier::counts).await else {
        return String::new();
    };
    let mut text = String::new();
    text.push_str("# HELP cashier_payments Deposits and withdrawals by provider and state\n");
    text.push_str("# TYPE cashier_payments gauge\n");
    let mut queue = 0;
    for (kind, provider, state_name, count) in &counts {
        text.push_str(&format!(
            "cashier_payments{{kind=\"{kind}\",provider=\"{provider}\",state=\"{state_name}\"}} {count}\n"
        ));
        if kind == "withdrawal" && state_name == "requested" {
            queue += count;
        }
    }
    text.push_str("# HELP cashier_approval_queue_depth Withdrawals waiting for approval\n");
    text.push_str("# TYPE cashier_approval_queue_depth gauge\n");
    text.push_str(&format!("cashier_approval_queue_depth {queue}\n"));
    text
}
