//! The marketing suppression asks the problem-gambling markers too: an open
//! marker alert at the flag score keeps offers away, a lower or closed one
//! does not. (Beside `campaigns`, not inside it: the tests open the store,
//! whose migrations name it.)

use crate::analytics::FLAG_SCORE;
use crate::campaigns::{Suppression, suppressed_for_marketing};

fn alert(c: &rusqlite::Connection, id: i64, player: i64, score: u32, state: &str) {
    c.execute(
        "INSERT INTO marker_alerts (id, player, score, markers, summary, as_of_seq, time_ms, state)
         VALUES (?1, ?2, ?3, '[]', 'test', 1, 1, ?4)",
        rusqlite::params![id, player, score, state],
    )
    .unwrap();
}

#[test]
fn an_open_marker_alert_at_the_flag_score_suppresses_marketing() {
    let dir = tempfile::tempdir().unwrap();
    let c = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
    assert_eq!(suppressed_for_marketing(&c, 1, Some(true), 0).unwrap(), None);
    alert(&c, 1, 1, FLAG_SCORE - 1, "open");
    alert(&c, 2, 1, FLAG_SCORE + 10, "closed");
    assert_eq!(suppressed_for_marketing(&c, 1, Some(true), 0).unwrap(), None);
    alert(&c, 3, 1, FLAG_SCORE, "open");
    assert_eq!(
        suppressed_for_marketing(&c, 1, Some(true), 0).unwrap(),
        Some(Suppression::ProblemGamblingMarkers)
    );
    // Another player is not touched; consent still comes first.
    assert_eq!(suppressed_for_marketing(&c, 2, Some(true), 0).unwrap(), None);
    assert_eq!(
        suppressed_for_marketing(&c, 1, Some(false), 0).unwrap(),
        Some(Suppression::NoConsent)
    );
}
