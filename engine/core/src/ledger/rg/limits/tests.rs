//! Unit tests of the rolling limit windows and limit changes.

use super::*;

const WAGER_DAY: LimitKind = LimitKind {
    metric: LimitMetric::Wager,
    period: LimitPeriod::Day,
};
const WAGER_WEEK: LimitKind = LimitKind {
    metric: LimitMetric::Wager,
    period: LimitPeriod::Week,
};
const T0: u64 = 1_700_000_000_000;

fn amount(minor: i64) -> Amount {
    Amount::from_minor(minor)
}

#[test]
fn first_limit_and_decrease_apply_at_once_increase_waits() {
    let mut limits = Limits::default();
    assert_eq!(
        limits.set(WAGER_DAY, Some(amount(100)), (1, T0), DAY_MS),
        LimitChange::Immediate
    );
    assert_eq!(
        limits.set(WAGER_DAY, Some(amount(50)), (1, T0), DAY_MS),
        LimitChange::Immediate
    );
    assert_eq!(limits.current(WAGER_DAY), Some(amount(50)));
    assert_eq!(
        limits.set(WAGER_DAY, Some(amount(500)), (1, T0), DAY_MS),
        LimitChange::Scheduled(T0 + DAY_MS)
    );
    limits.promote(T0 + DAY_MS - 1);
    assert_eq!(limits.current(WAGER_DAY), Some(amount(50)));
    limits.promote(T0 + DAY_MS);
    assert_eq!(limits.current(WAGER_DAY), Some(amount(500)));
    assert_eq!(
        limits.set(WAGER_DAY, None, (1, T0 + DAY_MS), DAY_MS),
        LimitChange::Scheduled(T0 + 2 * DAY_MS)
    );
    limits.promote(T0 + 2 * DAY_MS);
    assert_eq!(limits.current(WAGER_DAY), None);
}

#[test]
fn a_decrease_cancels_a_pending_increase() {
    let mut limits = Limits::default();
    limits.set(WAGER_DAY, Some(amount(100)), (1, T0), DAY_MS);
    limits.set(WAGER_DAY, Some(amount(500)), (1, T0), DAY_MS);
    limits.set(WAGER_DAY, Some(amount(80)), (1, T0 + 1), DAY_MS);
    limits.promote(T0 + 2 * DAY_MS);
    assert_eq!(limits.current(WAGER_DAY), Some(amount(80)));
}

#[test]
fn windows_roll_and_err_on_the_protective_side() {
    let mut limits = Limits::default();
    limits.set(WAGER_DAY, Some(amount(100)), (1, T0), DAY_MS);
    limits.set(WAGER_WEEK, Some(amount(150)), (1, T0), DAY_MS);
    limits.record(LimitMetric::Wager, T0, 80);
    assert_eq!(limits.check(&[LimitMetric::Wager], amount(20), T0), Ok(()));
    assert_eq!(
        limits.check(&[LimitMetric::Wager], amount(21), T0),
        Err((WAGER_DAY, amount(20)))
    );
    // 25 hours later the day window has dropped the 80; the week has not.
    let later = T0 + 25 * HOUR_MS;
    assert_eq!(limits.check(&[LimitMetric::Wager], amount(70), later), Ok(()));
    assert_eq!(
        limits.check(&[LimitMetric::Wager], amount(71), later),
        Err((WAGER_WEEK, amount(70)))
    );
    // Nine days later everything has rolled out.
    assert_eq!(
        limits.check(&[LimitMetric::Wager], amount(100), T0 + 9 * DAY_MS),
        Ok(())
    );
}

#[test]
fn taking_back_only_touches_buckets_that_still_hold_the_time() {
    let mut window = Window::new(0);
    window.add(T0, 50);
    window.take_back(T0, 20);
    assert_eq!(window.total(T0, LimitPeriod::Day), 30);
    window.add(T0 + 40 * DAY_MS, 5);
    window.take_back(T0, 30);
    assert_eq!(window.total(T0 + 40 * DAY_MS, LimitPeriod::Month), 5);
}
