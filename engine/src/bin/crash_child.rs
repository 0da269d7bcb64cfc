//! Test support for `engine/tests/crash.rs`, not a tool.
//!
//! Recovers the ledger from the journal in `argv[1]`, then plays the workload
//! of round `argv[2]` through the sequencer with the journal as its sink, and
//! prints one line per acknowledged request (`seq \t source \t id \t
//! outcome`) as soon as its reply arrives, i.e. after its batch was flushed.
//! The parent kills it with SIGKILL at a random moment and checks that every
//! printed line survived.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

use engine::durable::recover;
use engine::sequencer::{Sequencer, SequencerConfig, SystemClock};
use engine::workload::Workload;
use engine::{Config, Currency, SourceId};
use journal::JournalConfig;

const PLAYERS: u64 = 200;
const REQUESTS_MAX: u64 = 200_000;
const WINDOW: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: croupier-crash-child DIR ROUND")?);
    let round: u64 = args.next().ok_or("missing ROUND")?.parse()?;
    let journal_config = JournalConfig {
        segment_size_bytes: 256 * 1024,
        ..JournalConfig::default()
    };
    let recovered = recover(&dir, Config::default(), journal_config)?;
    let config = SequencerConfig {
        ring_capacity: 1_024,
        batch_len_max: 32,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(recovered.ledger, recovered.sink, SystemClock, config)?;
    let handle = sequencer.handle();

    // Round 0 registers and funds the players; every round then plays its own ids.
    let mut workload = Workload::new(round, PLAYERS, Currency::EUR).with_source(SourceId(100 + round as u32));
    let setup: Vec<_> = if round == 0 {
        Workload::new(0, PLAYERS, Currency::EUR).setup().collect()
    } else {
        Vec::new()
    };
    let requests = setup
        .into_iter()
        .chain((0..REQUESTS_MAX).map(|_| workload.next_request()));

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut pending = VecDeque::with_capacity(WINDOW);
    for request in requests {
        if pending.len() == WINDOW {
            acknowledge(&mut out, pending.pop_front().expect("window is full"))?;
        }
        let tag = (request.source, request.id.clone());
        let completion = handle.submit_waiting(request)?;
        pending.push_back((tag, completion));
    }
    for entry in pending {
        acknowledge(&mut out, entry)?;
    }
    sequencer.shutdown()?;
    Ok(())
}

type Pending = ((SourceId, engine::ExtId), engine::sequencer::Completion);

fn acknowledge(out: &mut impl Write, ((source, id), completion): Pending) -> Result<(), Box<dyn std::error::Error>> {
    let reply = completion.wait()?;
    writeln!(out, "{}\t{}\t{}\t{:?}", reply.seq, source.0, id, reply.outcome)?;
    out.flush()?;
    Ok(())
}
