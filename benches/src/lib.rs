//! Shared set-up for Croupier's benchmarks and the memory probe.
//!
//! Every measurement runs on the same state and the same request mix:
//!
//! * a [`Ledger`] with [`Config::default()`] and [`PLAYERS`] players, each
//!   registered and funded by [`Workload::setup`] (three requests per
//!   player), applied directly with envelopes stamped here;
//! * the realistic mix of [`Workload::next_request`] (bet 50 %, win 40 %,
//!   rollback 2 %, deposit/withdrawal 3 %, retries 5 %), from the fixed seed
//!   [`SEED`] so that runs are comparable.
//!
//! Envelopes are stamped the way the sequencer would: strictly increasing
//! sequence numbers, and a time that starts at the wall clock when the
//! fixture is built and then advances by one millisecond every
//! [`COMMANDS_PER_MS`] commands (one full sequencer batch per millisecond).
//! The time therefore stays close to the real clock, so a fixture can be
//! handed to a sequencer running on [`engine::sequencer::SystemClock`]
//! without the first batch expiring everything by age.
//!
//! Requests are generated ahead of the timed regions by [`Fixture::requests`]
//! and [`Fixture::envelopes`]: generating one formats several ids and
//! allocates for each (about 0.3 µs here), a cost the timed regions must
//! not include.

pub mod segments;

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::sequencer::{Committed, CompletionFuture, SequencerHandle, SubmitError};
use hdrhistogram::Histogram;

use engine::workload::Workload;
use engine::{Config, Currency, Envelope, Ledger, Outcome, Request};

/// Players in the benchmark ledger (the target size).
pub const PLAYERS: u64 = 1_000_000;
/// Idempotency entries the memory probe retains by default (the default
/// retention limit of [`Config`]).
pub const RETAINED: usize = 10_000_000;
/// Seed of the workload generator.
pub const SEED: u64 = 0x00c0_ffee;
/// Currency every workload player holds.
pub const CURRENCY: Currency = Currency::EUR;
/// Simulated clock: commands stamped per millisecond.
pub const COMMANDS_PER_MS: u64 = 4_096;

/// A ledger with funded players, and the generator that continues its
/// workload.
pub struct Fixture {
    /// The ledger, applied to directly (or handed to a sequencer).
    pub ledger: Ledger,
    /// The generator that funded the players; it continues the mix.
    pub workload: Workload,
    base_ms: u64,
}

impl Fixture {
    /// An empty ledger with [`Config::default()`] and a workload over
    /// `players` players; nothing is applied yet.
    pub fn empty(players: u64) -> Fixture {
        Fixture::with_config(players, Config::default())
    }

    /// Like [`Fixture::empty`] with a custom configuration.
    pub fn with_config(players: u64, config: Config) -> Fixture {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Fixture {
            ledger: Ledger::new(config),
            workload: Workload::new(SEED, players, CURRENCY),
            base_ms,
        }
    }

    /// Registers and funds the players (three requests each), checking
    /// every outcome.
    pub fn fund(&mut self) {
        self.fund_where(|_| true);
    }

    /// Applies the set-up requests whose position in the set-up stream
    /// (register, deposit, confirm, register, ...) satisfies `keep`,
    /// checking every outcome. `fund_where(|i| i % 3 == 0)` then
    /// `fund_where(|i| i % 3 != 0)` registers first and funds afterwards.
    pub fn fund_where(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let setup: Vec<Request> = self
            .workload
            .setup()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, r)| r)
            .collect();
        for request in setup {
            let committed = self.apply_stamped(request);
            let seq = committed.envelope.seq;
            assert!(
                committed.outcome.is_ok(),
                "set-up request {seq} failed: {:?}",
                committed.outcome
            );
        }
    }

    /// Stamps `request` to follow the `offset`-th envelope after the
    /// ledger's last: the next sequence number plus `offset`, and the time
    /// the simulated clock gives it.
    pub fn stamp(&self, request: Request, offset: u64) -> Envelope {
        let seq = self.ledger.last_seq() + 1 + offset;
        Envelope {
            seq,
            time_ms: self.base_ms + seq / COMMANDS_PER_MS,
            request,
        }
    }

    /// Stamps and applies `request`; returns it with its outcome, as a
    /// commit sink would receive it.
    pub fn apply_stamped(&mut self, request: Request) -> Committed {
        let envelope = self.stamp(request, 0);
        let outcome = self.ledger.apply(&envelope);
        Committed { envelope, outcome }
    }

    /// A ledger with `players` registered and funded players.
    pub fn funded(players: u64) -> Fixture {
        let mut fixture = Fixture::empty(players);
        fixture.fund();
        fixture
    }

    /// The next `n` requests of the mix.
    pub fn requests(&mut self, n: usize) -> Vec<Request> {
        (0..n).map(|_| self.workload.next_request()).collect()
    }

    /// The next `n` requests of the mix, stamped to follow the ledger's last
    /// sequence number. They must be applied in order, before any other.
    pub fn envelopes(&mut self, n: usize) -> Vec<Envelope> {
        let requests = self.requests(n);
        (0..)
            .zip(requests)
            .map(|(offset, request)| self.stamp(request, offset))
            .collect()
    }

    /// Generates, stamps and applies the next request of the mix.
    pub fn apply_next(&mut self) -> Outcome {
        let request = self.workload.next_request();
        self.apply_stamped(request).outcome
    }

    /// Applies the next `n` requests of the mix.
    pub fn apply_n(&mut self, n: u64) {
        for _ in 0..n {
            self.apply_next();
        }
    }

    /// Applies requests of the mix until `done(ledger)` holds; returns how
    /// many were applied.
    pub fn apply_until(&mut self, mut done: impl FnMut(&Ledger) -> bool) -> u64 {
        let mut applied = 0;
        while !done(&self.ledger) {
            self.apply_next();
            applied += 1;
        }
        applied
    }

    /// Fills the idempotency memory to its retention limit, so that every
    /// further request also evicts one: the ledger's steady state.
    pub fn warm_to_retention_limit(&mut self) -> u64 {
        let limit = self.ledger.config().idempotency_len_max;
        self.apply_until(|ledger| ledger.remembered_len() >= limit)
    }
}

/// The ledger every benchmark starts from: [`PLAYERS`] funded players,
/// then warmed with workload requests until the idempotency memory is at
/// its retention limit (10,000,000 by default). Prints what it built.
pub fn bench_fixture() -> Fixture {
    let started = Instant::now();
    let mut fixture = Fixture::funded(PLAYERS);
    let funded_s = started.elapsed().as_secs_f64();
    let warmed = fixture.warm_to_retention_limit();
    eprintln!(
        "fixture: {} players funded in {funded_s:.1} s, then {warmed} warm-up requests \
         ({:.1} s total): {} requests remembered, {} rounds open, last seq {}",
        fixture.ledger.players_len(),
        started.elapsed().as_secs_f64(),
        fixture.ledger.remembered_len(),
        fixture.ledger.open_rounds_len(),
        fixture.ledger.last_seq(),
    );
    fixture
}

/// How long a producer spins for a reply before it parks.
const SPIN: Duration = Duration::from_micros(50);

/// Wakes the producer thread when a reply it polled for arrives.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// One producer with a bounded window of outstanding completions that
/// records every submit-to-reply latency; it may run on any thread, next to
/// other producers.
pub struct Producer {
    handle: SequencerHandle,
    window: usize,
    in_flight: VecDeque<(Instant, CompletionFuture)>,
    /// Submit-to-reply latency in nanoseconds.
    pub latency: Histogram<u64>,
    /// Times `submit` answered `Busy` (the request is then resubmitted).
    pub busy: u64,
}

impl Producer {
    /// A producer keeping at most `window` requests in flight.
    pub fn new(handle: SequencerHandle, window: usize) -> Producer {
        Producer {
            handle,
            window,
            in_flight: VecDeque::with_capacity(window),
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
            busy: 0,
        }
    }

    /// Submits every request and waits for every reply, on the calling thread.
    pub fn run(&mut self, requests: Vec<Request>) {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        for mut request in requests {
            while self.in_flight.len() >= self.window {
                self.wait_oldest(&waker);
            }
            loop {
                let submitted = Instant::now();
                match self.handle.try_submit(request) {
                    Ok(completion) => {
                        self.in_flight.push_back((submitted, completion.into_future()));
                        break;
                    }
                    Err((SubmitError::Busy, back)) => {
                        self.busy += 1;
                        request = back;
                        if self.in_flight.is_empty() {
                            std::thread::yield_now();
                        } else {
                            self.wait_oldest(&waker);
                        }
                    }
                    Err((SubmitError::ShutDown, _)) => panic!("sequencer shut down"),
                }
            }
            self.collect(&waker);
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest(&waker);
        }
    }

    /// Records the replies that have arrived, oldest first; returns how many.
    fn collect(&mut self, waker: &Waker) -> usize {
        let mut cx = Context::from_waker(waker);
        let mut now = None;
        let mut collected = 0;
        while let Some((submitted, completion)) = self.in_flight.front_mut() {
            match Pin::new(completion).poll(&mut cx) {
                Poll::Pending => break,
                Poll::Ready(reply) => {
                    let reply = reply.expect("applied and committed");
                    std::hint::black_box(reply);
                    let now = *now.get_or_insert_with(Instant::now);
                    let nanos = now.duration_since(*submitted).as_nanos() as u64;
                    self.latency.saturating_record(nanos.max(1));
                    self.in_flight.pop_front();
                    collected += 1;
                }
            }
        }
        collected
    }

    /// Waits for at least the oldest reply: spins up to [`SPIN`], then parks.
    fn wait_oldest(&mut self, waker: &Waker) {
        let started = Instant::now();
        while self.collect(waker) == 0 && !self.in_flight.is_empty() {
            if started.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::park();
            }
        }
    }
}

/// Busy clock ticks of the whole machine (all CPUs) and of this process.
pub fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let machine = cpu.iter().sum::<u64>() - cpu.get(3)? - cpu.get(4)?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = own.rsplit_once(") ")?.1;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let process = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((machine, process))
}

/// The criterion settings of every bench here: 10 samples (each one runs
/// long, and the machine is small), with the given warm-up and measurement.
pub fn criterion_config(warm_up_s: u64, measurement_s: u64) -> criterion::Criterion {
    criterion::Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(warm_up_s))
        .measurement_time(std::time::Duration::from_secs(measurement_s))
}
