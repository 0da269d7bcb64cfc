//! Acknowledged means durable: a child process runs the sequencer over the
//! journal and prints every acknowledgement; this test `kill -9`s it at
//! random moments, recovers, and checks that every acknowledged request is
//! in the recovered ledger with the outcome it was acknowledged with, and
//! that conservation holds.
//!
//! 20 rounds by default; `CROUPIER_CRASH_ROUNDS` sets more and
//! `CROUPIER_CRASH_SEED` reproduces a run (the seed is printed).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use engine::durable::recover;
use engine::workload::SplitMix64;
use engine::{Config, ExtId, SourceId, TxRef};
use journal::JournalConfig;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One acknowledged request as the child printed it.
struct Ack {
    seq: u64,
    tx: TxRef,
    outcome: String,
}

fn parse(line: &str) -> Ack {
    let mut fields = line.splitn(4, '\t');
    let mut next = || fields.next().unwrap_or_else(|| panic!("malformed ack line {line:?}"));
    let seq = next().parse().unwrap();
    let source = SourceId(next().parse().unwrap());
    let id = ExtId::new(next()).unwrap();
    Ack {
        seq,
        tx: TxRef { source, id },
        outcome: next().to_string(),
    }
}

/// Runs the child for round `round` and kills it after `kill_after` acks
/// (or lets it finish); returns every ack it printed.
fn crash_round(dir: &std::path::Path, round: u64, kill_after: u64) -> Vec<Ack> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_croupier-crash-child"))
        .arg(dir)
        .arg(round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    for line in lines.by_ref() {
        acks.push(parse(&line.unwrap()));
        if acks.len() as u64 >= kill_after {
            child.kill().expect("SIGKILL the child");
            break;
        }
    }
    // Whatever it printed before dying was acknowledged too.
    acks.extend(lines.map_while(Result::ok).map(|line| parse(&line)));
    child.wait().unwrap();
    acks
}

#[test]
fn no_acknowledged_command_is_lost_to_kill_9() {
    let rounds = env_number("CROUPIER_CRASH_ROUNDS", 20);
    let seed = env_number("CROUPIER_CRASH_SEED", std::process::id() as u64);
    println!("crash test: {rounds} rounds, CROUPIER_CRASH_SEED={seed}");
    let mut rng = SplitMix64::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let journal_config = JournalConfig {
        segment_size_bytes: 256 * 1024,
        ..JournalConfig::default()
    };
    let mut acknowledged: HashMap<(u32, String), Ack> = HashMap::new();
    let mut last_acked_seq = 0;
    for round in 0..rounds {
        // Round 0 must get past the set-up (600 requests) most of the time.
        let kill_after = 1 + rng.below(if round == 0 { 2_000 } else { 1_500 });
        for ack in crash_round(dir.path(), round, kill_after) {
            last_acked_seq = last_acked_seq.max(ack.seq);
            acknowledged.insert((ack.tx.source.0, ack.tx.id.to_string()), ack);
        }
        let recovered = recover(dir.path(), Config::default(), journal_config)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): recovery failed: {e}"));
        let ledger = &recovered.ledger;
        assert!(
            ledger.last_seq() >= last_acked_seq,
            "round {round} (seed {seed}): acknowledged seq {last_acked_seq} lost"
        );
        for ack in acknowledged.values() {
            let summary = ledger
                .transaction(&ack.tx)
                .unwrap_or_else(|| panic!("seq {} lost (seed {seed})", ack.seq));
            assert_eq!(
                format!("{:?}", summary.outcome),
                ack.outcome,
                "seq {} changed outcome (seed {seed})",
                ack.seq
            );
        }
        ledger
            .check_conservation()
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
    }
    assert!(
        acknowledged.len() > 1_000,
        "the child acknowledged too little to test anything"
    );
}
