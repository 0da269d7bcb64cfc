//! What each connection sends, step by step, and what it must get back.
//!
//! A [`Script`] is one connection's side of a scenario: it makes the next
//! request ([`Script::next`]), then judges the reply ([`Script::settle`]):
//! an accepted money movement moves the player's implied balance by the
//! step's `delta`, an expected refusal moves nothing, and anything else
//! (an unexpected status, a retry answered differently) stops the run.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Call, Reply, decimal};
use crate::fixture::{Scheme, Seat};

/// The scenarios `croupier-loadtest run` plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Native API: a bet of 1.00, then a win of 0.50 that closes the
    /// round, over and over (the figure BENCHMARKS.md tracks).
    Rounds,
    /// Native API, a realistic mix: bets, wins of 0, 0.50 or 2.00,
    /// rollbacks (10 % of open rounds), retries of the previous request
    /// (5 %, which must be answered byte for byte as the first time) and
    /// bets over the balance (8 % of new rounds, which must be refused).
    Wallet,
    /// Rounds as above, every connection on the same player: the ledger's
    /// hottest key.
    HotPlayer,
    /// Operator deposits of 10.00 (the cashier's confirmed deposit).
    Cashier,
    /// Rounds through the Hub88 adapter (RSA-signed both ways; the client
    /// signs on the same cores).
    Hub88,
    /// Pragmatic Play's flow: `bet`, `result`, `endRound` (form posts with
    /// an MD5 hash).
    Pragmatic,
    /// Evolution's One Wallet: `debit`, then the `credit` that settles it.
    Evolution,
    /// `GET /healthz`: no engine, no journal; the HTTP stack's own ceiling.
    Noop,
    /// The native in-session balance (`/wallet/v1/balance`), answered by
    /// the sequencer through the ring.
    WalletBalance,
    /// The operator balance read, answered from the read model.
    OperatorBalance,
    /// Player registrations with a full profile (`POST
    /// /operator/v1/registrations`): validation, duplicate checks, a data
    /// key made and wrapped, the profile sealed, the account journaled.
    Registrations,
}

impl Scenario {
    /// How the scenario's aggregator authenticates.
    pub fn scheme(self) -> Scheme {
        match self {
            Scenario::Hub88 => Scheme::Rsa,
            Scenario::Pragmatic => Scheme::HashKey,
            Scenario::Evolution => Scheme::AuthToken,
            _ => Scheme::Hmac,
        }
    }

    /// Players the fixture needs for `connections` connections and
    /// `players` asked for (at least one a connection).
    pub fn seats(self, connections: usize, players: Option<usize>) -> usize {
        match self {
            Scenario::Noop | Scenario::Registrations => 0,
            Scenario::HotPlayer => 1,
            _ => players.unwrap_or(connections).max(connections),
        }
    }
}

/// What a request is, for the per-kind figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Bet,
    Win,
    Rollback,
    Retry,
    RefusedBet,
    Deposit,
    Balance,
    Noop,
    EndRound,
    Register,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Bet,
        Kind::Win,
        Kind::Rollback,
        Kind::Retry,
        Kind::RefusedBet,
        Kind::Deposit,
        Kind::Balance,
        Kind::Noop,
        Kind::EndRound,
        Kind::Register,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether an accepted request of this kind moves a player's money.
    pub fn moves_money(self) -> bool {
        matches!(self, Kind::Bet | Kind::Win | Kind::Rollback | Kind::Deposit)
    }
}

/// One request and what it must get.
pub struct Step {
    pub kind: Kind,
    pub call: Call,
    /// The player whose money it moves (0: none).
    pub player: u64,
    /// Cents the player's cash moves by if it is accepted.
    pub delta: i64,
    expect: Expect,
}

/// What a step's reply must be.
enum Expect {
    /// 200 (and `RS_OK` for Hub88).
    Accepted,
    /// 201 Created.
    Created,
    /// This status with this error code.
    Refused { status: u16, code: &'static str },
    /// Exactly the reply the original request got.
    SameAs(Reply),
}

/// How a reply was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted: the step's delta happened.
    Accepted,
    /// Refused as expected, or a retry answered as the first time: nothing moved.
    Unchanged,
}

/// One connection's script.
pub struct Script {
    scenario: Scenario,
    connection: usize,
    /// The players this connection plays, one round (or request) each in
    /// turn; `current` is the one playing now.
    seats: Vec<Seat>,
    current: usize,
    /// Requests made so far (ids are unique per connection).
    made: u64,
    rng: u64,
    /// The open round and its bet's id.
    open: Option<(String, String)>,
    /// A settled round still to end (Pragmatic Play's `endRound`).
    to_end: Option<String>,
    /// The last request that was not itself a retry, and its reply.
    last: Option<(Call, Reply)>,
    /// Distinct per run, so that a second run against the same server
    /// registers new people rather than duplicates.
    run: u128,
}

impl Script {
    pub fn new(scenario: Scenario, connection: usize, seats: Vec<Seat>, seed: u64) -> Script {
        Script {
            scenario,
            connection,
            seats,
            current: 0,
            made: 0,
            // SplitMix64 needs any non-zero-ish start; distinct per connection.
            rng: seed ^ (connection as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            open: None,
            to_end: None,
            last: None,
            run: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
        }
    }

    /// A percentage roll, 0..100 (SplitMix64: reproducible per seed).
    fn roll(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % 100
    }

    fn player(&self) -> u64 {
        self.seats.get(self.current).map_or(0, |seat| seat.player)
    }

    fn token(&self) -> &str {
        self.seats.get(self.current).map_or("", |seat| seat.token.as_str())
    }

    /// The next request.
    pub fn next(&mut self) -> Step {
        self.made += 1;
        // The next player takes over between rounds, never inside one (the
        // first request is the first player's).
        if self.open.is_none() && self.to_end.is_none() && self.made > 1 && !self.seats.is_empty() {
            self.current = (self.current + 1) % self.seats.len();
        }
        match self.scenario {
            Scenario::Noop => self.step(Kind::Noop, Call::Get { path: "/healthz" }, 0, Expect::Accepted),
            Scenario::WalletBalance => {
                let body = json!({ "token": self.token() });
                self.step(Kind::Balance, native("balance", &body), 0, Expect::Accepted)
            }
            Scenario::OperatorBalance => {
                let path = format!("/operator/v1/players/{}/balance?currency=EUR", self.player());
                self.step(Kind::Balance, Call::OperatorGet { path }, 0, Expect::Accepted)
            }
            Scenario::Cashier => {
                let path = format!("/operator/v1/players/{}/deposits", self.player());
                let body = json!({"deposit_id": format!("lt-c{}-d{}", self.connection, self.made),
                    "currency": "EUR", "amount": decimal(1_000)});
                let call = Call::OperatorPost {
                    path,
                    body: body.to_string().into_bytes(),
                };
                self.step(Kind::Deposit, call, 1_000, Expect::Accepted)
            }
            Scenario::Pragmatic if self.to_end.is_some() => {
                let round = self.to_end.take().unwrap_or_default();
                let call = self.pragmatic("endRound", &round, None);
                self.step(Kind::EndRound, call, 0, Expect::Accepted)
            }
            Scenario::Rounds | Scenario::HotPlayer | Scenario::Hub88 | Scenario::Pragmatic | Scenario::Evolution => {
                match self.open.take() {
                    None => self.bet(100),
                    Some((round, bet)) => self.win(&round, &bet, 50),
                }
            }
            Scenario::Wallet => self.mixed(),
            Scenario::Registrations => self.registration(),
        }
    }

    /// A new person, unique by email and by name + date of birth +
    /// postcode (the server's duplicate rules).
    fn registration(&mut self) -> Step {
        let who = format!("{:x}-{}-{}", self.run, self.connection, self.made);
        let day = 1 + self.roll() % 28;
        let body = json!({"currency": "EUR", "jurisdiction": "MT", "profile": {
            "name": format!("Load Test {who}"), "email": format!("lt-{who}@example.org"),
            "phone": "+356 2123 4567", "date_of_birth": format!("1985-03-{day:02}"),
            "address": {"line": "1 Republic Street", "city": "Valletta", "postcode": "VLT 1117"},
            "country": "MT", "language": "en", "marketing": {"email": false, "sms": false, "phone": false, "post": false}}});
        let call = Call::OperatorPost {
            path: "/operator/v1/registrations".to_owned(),
            body: body.to_string().into_bytes(),
        };
        self.step(Kind::Register, call, 0, Expect::Created)
    }

    fn mixed(&mut self) -> Step {
        let roll = self.roll();
        if roll < 5
            && let Some((call, reply)) = &self.last
        {
            return Step {
                kind: Kind::Retry,
                call: call.clone(),
                player: self.player(),
                delta: 0,
                expect: Expect::SameAs(reply.clone()),
            };
        }
        match self.open.take() {
            None if roll < 13 => {
                // Ten million: more than any player here ever holds.
                let (call, _) = self.bet_call(1_000_000_000);
                self.step(
                    Kind::RefusedBet,
                    call,
                    0,
                    Expect::Refused {
                        status: 422,
                        code: "insufficient_funds",
                    },
                )
            }
            None => self.bet(100),
            Some((_, bet)) if roll < 15 => {
                let body = json!({"token": self.token(), "transaction_id": format!("{bet}-rb"),
                    "bet_transaction_id": bet});
                self.step(Kind::Rollback, native("rollback", &body), 100, Expect::Accepted)
            }
            Some((round, bet)) => {
                let amount = [0, 50, 200][(roll % 3) as usize];
                self.win(&round, &bet, amount)
            }
        }
    }

    fn step(&self, kind: Kind, call: Call, delta: i64, expect: Expect) -> Step {
        Step {
            kind,
            call,
            player: self.player(),
            delta,
            expect,
        }
    }

    fn user(&self) -> String {
        format!("player-{}", self.player())
    }

    /// A Pragmatic Play call about `round`; `money`: its reference and amount.
    fn pragmatic(&self, method: &'static str, round: &str, money: Option<(&str, i64)>) -> Call {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut params = vec![
            ("userId", self.user()),
            ("gameId", "slots".to_owned()),
            ("roundId", round.to_owned()),
            ("providerId", "PragmaticPlay".to_owned()),
            ("timestamp", timestamp.to_string()),
            ("token", self.token().to_owned()),
        ];
        if let Some((reference, cents)) = money {
            params.push(("reference", reference.to_owned()));
            params.push(("amount", decimal(cents)));
            params.push(("roundDetails", "spin".to_owned()));
        }
        Call::Pragmatic { method, params }
    }

    /// An Evolution debit or credit of `cents` for the bet `bet` of `round`.
    fn evolution(&self, route: &'static str, round: &str, bet: &str, id: &str, cents: i64) -> Call {
        // Written by hand: the amount must be a JSON number with exactly
        // the currency's decimals, which serde_json's floats would not keep.
        let body = format!(
            r#"{{"sid":{},"userId":{},"uuid":"u-{id}","currency":"EUR","game":{{"id":{},"type":"slots"}},"transaction":{{"id":{},"refId":{},"amount":{}}}}}"#,
            json!(self.token()),
            json!(self.user()),
            json!(round),
            json!(id),
            json!(bet),
            decimal(cents)
        );
        Call::Evolution {
            route,
            body: body.into_bytes(),
        }
    }

    /// A bet of `cents` opening a new round; returns the call and the round.
    fn bet_call(&self, cents: i64) -> (Call, (String, String)) {
        let round = format!("c{}-r{}", self.connection, self.made);
        let bet = format!("{round}-b");
        let call = if self.scenario == Scenario::Pragmatic {
            self.pragmatic("bet", &round, Some((&bet, cents)))
        } else if self.scenario == Scenario::Evolution {
            self.evolution("debit", &round, &bet, &bet, cents)
        } else if self.scenario == Scenario::Hub88 {
            hub88(
                "transaction/bet",
                &json!({"user": format!("player-{}", self.player()), "token": self.token(),
                "request_uuid": format!("rq-{bet}"), "transaction_uuid": bet, "round": round,
                "round_closed": false, "game_code": "slots", "currency": "EUR", "amount": cents * 1_000}),
            )
        } else {
            native(
                "bet",
                &json!({"token": self.token(), "transaction_id": bet, "round_id": round,
                "game": "slots", "currency": "EUR", "amount": decimal(cents)}),
            )
        };
        (call, (round, bet))
    }

    fn bet(&mut self, cents: i64) -> Step {
        let (call, open) = self.bet_call(cents);
        self.open = Some(open);
        self.step(Kind::Bet, call, -cents, Expect::Accepted)
    }

    /// A win of `cents` that closes `round`.
    fn win(&mut self, round: &str, bet: &str, cents: i64) -> Step {
        let win = format!("{round}-w");
        let call = if self.scenario == Scenario::Pragmatic {
            self.to_end = Some(round.to_owned());
            self.pragmatic("result", round, Some((&win, cents)))
        } else if self.scenario == Scenario::Evolution {
            self.evolution("credit", round, bet, &win, cents)
        } else if self.scenario == Scenario::Hub88 {
            hub88(
                "transaction/win",
                &json!({"user": format!("player-{}", self.player()), "token": self.token(),
                "request_uuid": format!("rq-{win}"), "transaction_uuid": win, "round": round,
                "round_closed": true, "game_code": "slots", "currency": "EUR", "amount": cents * 1_000,
                "reference_transaction_uuid": bet}),
            )
        } else {
            native(
                "win",
                &json!({"token": self.token(), "transaction_id": win, "round_id": round,
                "game": "slots", "currency": "EUR", "amount": decimal(cents), "close_round": true,
                "bet_transaction_id": bet}),
            )
        };
        self.step(Kind::Win, call, cents, Expect::Accepted)
    }

    /// Judges `reply` to `step`. A bet the server refused although it was
    /// meant to pass leaves no round open (the next step opens a new one).
    pub fn settle(&mut self, step: Step, reply: Reply) -> Result<Verdict> {
        let verdict = match &step.expect {
            Expect::Accepted | Expect::Created => {
                let accepted = match (&step.expect, self.scenario) {
                    (Expect::Created, _) => reply.status == reqwest::StatusCode::CREATED,
                    _ if reply.status != reqwest::StatusCode::OK => false,
                    (_, Scenario::Hub88) => reply.json()["status"] == "RS_OK",
                    (_, Scenario::Pragmatic) => reply.json()["error"] == 0,
                    (_, Scenario::Evolution) => reply.json()["status"] == "OK",
                    _ => true,
                };
                if !accepted {
                    bail!(
                        "{:?} on connection {}: {} {}",
                        step.kind,
                        self.connection,
                        reply.status,
                        reply.text()
                    );
                }
                Verdict::Accepted
            }
            Expect::Refused { status, code } => {
                if reply.status.as_u16() != *status || reply.json()["error"]["code"] != *code {
                    bail!(
                        "{:?} on connection {}: expected {status} {code}, got {} {}",
                        step.kind,
                        self.connection,
                        reply.status,
                        reply.text()
                    );
                }
                Verdict::Unchanged
            }
            Expect::SameAs(first) => {
                if *first != reply {
                    bail!(
                        "a retry on connection {} was answered differently: first {} {}, then {} {}",
                        self.connection,
                        first.status,
                        first.text(),
                        reply.status,
                        reply.text()
                    );
                }
                Verdict::Unchanged
            }
        };
        if step.kind != Kind::Retry {
            self.last = Some((step.call, reply));
        }
        Ok(verdict)
    }
}

fn native(route: &'static str, body: &serde_json::Value) -> Call {
    Call::Native {
        route,
        body: body.to_string().into_bytes(),
    }
}

fn hub88(route: &'static str, body: &serde_json::Value) -> Call {
    Call::Hub88 {
        route,
        body: body.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat() -> Vec<Seat> {
        vec![Seat {
            player: 7,
            token: "t".into(),
        }]
    }

    #[test]
    fn a_connections_players_take_turns_a_whole_round_each() {
        let seats = (1..=3)
            .map(|player| Seat {
                player,
                token: format!("t{player}"),
            })
            .collect();
        let mut script = Script::new(Scenario::Rounds, 0, seats, 1);
        let played: Vec<_> = (0..8).map(|_| script.next()).map(|s| (s.kind, s.player)).collect();
        assert_eq!(
            played,
            [
                (Kind::Bet, 1),
                (Kind::Win, 1),
                (Kind::Bet, 2),
                (Kind::Win, 2),
                (Kind::Bet, 3),
                (Kind::Win, 3),
                (Kind::Bet, 1),
                (Kind::Win, 1)
            ]
        );
    }

    #[test]
    fn rounds_alternate_a_bet_and_the_win_that_closes_it() {
        let mut script = Script::new(Scenario::Rounds, 0, seat(), 1);
        let kinds: Vec<_> = (0..4).map(|_| script.next()).map(|s| (s.kind, s.delta)).collect();
        assert_eq!(
            kinds,
            [(Kind::Bet, -100), (Kind::Win, 50), (Kind::Bet, -100), (Kind::Win, 50)]
        );
    }

    #[test]
    fn the_wallet_mix_has_every_kind_and_retries_repeat_the_previous_call() {
        let mut script = Script::new(Scenario::Wallet, 3, seat(), 42);
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..2_000 {
            let step = script.next();
            *seen.entry(step.kind).or_insert(0) += 1;
            let reply = match (&step.kind, &step.expect) {
                (_, Expect::SameAs(first)) => first.clone(),
                (_, Expect::Refused { status, code }) => Reply {
                    status: reqwest::StatusCode::from_u16(*status).unwrap(),
                    body: json!({"error": {"code": code}}).to_string().into_bytes(),
                },
                _ => Reply {
                    status: reqwest::StatusCode::OK,
                    body: b"{}".to_vec(),
                },
            };
            if step.kind == Kind::Retry {
                let Some((call, _)) = &script.last else {
                    panic!("a retry of nothing")
                };
                assert_eq!(format!("{call:?}"), format!("{:?}", step.call));
            }
            script.settle(step, reply).unwrap();
        }
        for kind in [Kind::Bet, Kind::Win, Kind::Rollback, Kind::Retry, Kind::RefusedBet] {
            assert!(seen.get(&kind).copied().unwrap_or(0) > 10, "{kind:?}: {seen:?}");
        }
    }

    #[test]
    fn registrations_are_distinct_people_and_must_be_created() {
        let mut script = Script::new(Scenario::Registrations, 2, Vec::new(), 1);
        let bodies: Vec<serde_json::Value> = (0..3)
            .map(|_| match script.next().call {
                Call::OperatorPost { path, body } => {
                    assert_eq!(path, "/operator/v1/registrations");
                    serde_json::from_slice(&body).unwrap()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let emails: std::collections::BTreeSet<_> = bodies.iter().map(|b| b["profile"]["email"].to_string()).collect();
        let names: std::collections::BTreeSet<_> = bodies.iter().map(|b| b["profile"]["name"].to_string()).collect();
        assert_eq!((emails.len(), names.len()), (3, 3));
        let step = script.next();
        let ok = Reply {
            status: reqwest::StatusCode::OK,
            body: b"{}".to_vec(),
        };
        assert!(script.settle(step, ok).is_err(), "a registration is 201, not 200");
        let step = script.next();
        let created = Reply {
            status: reqwest::StatusCode::CREATED,
            body: b"{}".to_vec(),
        };
        assert_eq!(script.settle(step, created).unwrap(), Verdict::Accepted);
    }

    #[test]
    fn an_unexpected_reply_or_a_different_retry_answer_stops_the_run() {
        let mut script = Script::new(Scenario::Rounds, 0, seat(), 1);
        let step = script.next();
        let refused = Reply {
            status: reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            body: b"{}".to_vec(),
        };
        assert!(script.settle(step, refused).is_err());

        let mut script = Script::new(Scenario::Rounds, 0, seat(), 1);
        let step = script.next();
        script
            .settle(
                step,
                Reply {
                    status: reqwest::StatusCode::OK,
                    body: b"{\"cash\":\"1.00\"}".to_vec(),
                },
            )
            .unwrap();
        let (call, first) = script.last.take().unwrap();
        let retry = Step {
            kind: Kind::Retry,
            call: call.clone(),
            player: 7,
            delta: 0,
            expect: Expect::SameAs(first),
        };
        script.last = Some((
            call,
            Reply {
                status: reqwest::StatusCode::OK,
                body: vec![],
            },
        ));
        let other = Reply {
            status: reqwest::StatusCode::OK,
            body: b"{\"cash\":\"2.00\"}".to_vec(),
        };
        assert!(script.settle(retry, other).is_err());
    }
}
