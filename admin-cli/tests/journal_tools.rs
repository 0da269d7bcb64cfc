//! `croupier-admin journal verify | inspect` and `replay` on a real data
//! directory written by the sequencer.

use std::path::Path;
use std::process::{Command, Output};

use engine::durable::recover;
use engine::sequencer::{Sequencer, SequencerConfig, SystemClock};
use engine::workload::Workload;
use engine::{Config, Currency};
use journal::JournalConfig;

fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_croupier-admin"))
        .args(args)
        .output()
        .expect("run croupier-admin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes a journal of a short session; returns the ledger's digest.
fn write_session(dir: &Path) -> u64 {
    let config = JournalConfig {
        segment_size_bytes: 64 * 1024,
        ..JournalConfig::default()
    };
    let recovered = recover(dir, Config::default(), config).unwrap();
    let sequencer = Sequencer::start(
        recovered.ledger,
        recovered.sink,
        SystemClock,
        SequencerConfig::default(),
    )
    .unwrap();
    let handle = sequencer.handle();
    let mut workload = Workload::new(9, 10, Currency::EUR);
    let mut requests: Vec<_> = workload.setup().collect();
    requests.extend((0..1_000).map(|_| workload.next_request()));
    let completions: Vec<_> = requests.into_iter().map(|r| handle.submit(r).unwrap()).collect();
    completions.into_iter().for_each(|c| {
        c.wait().unwrap();
    });
    sequencer.shutdown().unwrap().0.digest()
}

#[test]
fn verify_passes_an_intact_journal_and_names_the_first_bad_seq() {
    let dir = tempfile::tempdir().unwrap();
    write_session(dir.path());
    let path = dir.path().to_str().unwrap();
    let ok = admin(&["journal", "verify", path]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("intact:") && stdout(&ok).contains("last seq 971"),
        "{}",
        stdout(&ok)
    );

    let first = dir.path().join(journal::segment_file_name(1));
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&first, bytes).unwrap();
    let damaged = admin(&["journal", "verify", path]);
    assert_eq!(damaged.status.code(), Some(1));
    assert!(
        stdout(&damaged).contains("DAMAGED: first bad seq 1:"),
        "{}",
        stdout(&damaged)
    );
}

/// The offset and length of the last batch in a segment's bytes.
fn last_batch(bytes: &[u8]) -> (usize, usize) {
    let (mut offset, mut last) = (0, (0, 0));
    while let Ok(batch) = journal::decode_batch(&bytes[offset..]) {
        last = (offset, batch.encoded_len_bytes());
        offset += batch.encoded_len_bytes();
    }
    last
}

#[test]
fn verify_fails_on_a_damaged_last_batch_and_notes_a_torn_one() {
    let dir = tempfile::tempdir().unwrap();
    write_session(dir.path());
    let path = dir.path().to_str().unwrap();
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let last = segments.pop().unwrap();
    let pristine = std::fs::read(&last).unwrap();
    let (offset, len) = last_batch(&pristine);
    assert!(len > 0);

    // Written completely, then a bit flipped: acknowledged data damaged.
    let mut bytes = pristine.clone();
    bytes[offset + len / 2] ^= 0x08;
    std::fs::write(&last, &bytes).unwrap();
    let damaged = admin(&["journal", "verify", path]);
    assert_eq!(damaged.status.code(), Some(1), "{}", stdout(&damaged));
    assert!(
        stdout(&damaged).contains("DAMAGED") && stdout(&damaged).contains(&format!("byte {offset}")),
        "{}",
        stdout(&damaged)
    );
    let refused = recover(dir.path(), Config::default(), JournalConfig::default());
    assert!(refused.is_err(), "a damaged last batch must not be recovered from");
    assert_eq!(std::fs::read(&last).unwrap(), bytes, "nothing on disk changed");

    // Its trailer never written: a torn write, never acknowledged.
    let mut bytes = pristine.clone();
    bytes[offset + len - 8..offset + len].fill(0);
    std::fs::write(&last, &bytes).unwrap();
    let torn = admin(&["journal", "verify", path]);
    assert!(torn.status.success(), "{}", stdout(&torn));
    assert!(
        stdout(&torn).contains("torn last write") && stdout(&torn).contains("quarantine"),
        "{}",
        stdout(&torn)
    );
    let recovered = recover(dir.path(), Config::default(), JournalConfig::default()).unwrap();
    let quarantined = recovered
        .report
        .torn_tail
        .and_then(|torn| torn.quarantined_to)
        .expect("quarantined");
    assert!(quarantined.starts_with(dir.path().join(journal::QUARANTINE_DIR_NAME)));
}

#[test]
fn inspect_filters_by_range_player_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    write_session(dir.path());
    let path = dir.path().to_str().unwrap();
    let out = admin(&[
        "journal", "inspect", path, "--json", "--kind", "bet", "--player", "3", "--from", "31",
    ]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["kind"], "bet");
        assert_eq!(line["player"], 3);
        assert!(line["seq"].as_u64().unwrap() >= 31);
    }
    let table = admin(&["journal", "inspect", path, "--from", "1", "--to", "3"]);
    assert_eq!(
        stdout(&table).lines().count(),
        1 + 3,
        "header and three records:\n{}",
        stdout(&table)
    );
    assert!(stdout(&table).contains("register_player"));
}

#[test]
fn replay_prints_the_digest_and_totals_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let digest = write_session(dir.path());
    let path = dir.path().to_str().unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = admin(&["replay", path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains(&format!("digest {digest:016x}")), "{text}");
    assert!(text.contains("EUR") && text.contains("conservation holds"), "{text}");
    let after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before.len(), after.len());
}

#[test]
fn bad_input_gets_a_clear_error() {
    let missing = admin(&["journal", "verify", "/nonexistent/croupier-data"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a directory"));
    let amount = admin(&["amount", "1.005", "EUR"]);
    assert!(!amount.status.success());
    assert!(String::from_utf8_lossy(&amount.stderr).contains("EUR allows at most 2 decimals"));
}

#[test]
fn snapshot_then_replay_starts_from_it_with_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let digest = write_session(dir.path());
    let path = dir.path().to_str().unwrap();
    let digest_line = format!("digest {digest:016x}");

    let taken = admin(&["snapshot", path, "--retire", "archive"]);
    assert!(taken.status.success(), "{}", stdout(&taken));
    let text = stdout(&taken);
    assert!(text.contains("seq 971") && text.contains(&digest_line), "{text}");
    assert!(
        text.contains("retired"),
        "the journal behind the snapshot is archived: {text}"
    );
    let again = admin(&["snapshot", path]);
    assert!(stdout(&again).contains("nothing new"), "{}", stdout(&again));

    let replayed = admin(&["replay", path]);
    assert!(replayed.status.success(), "{}", stdout(&replayed));
    let text = stdout(&replayed);
    assert!(
        text.contains("started from snapshot") && text.contains("replayed 0 commands"),
        "{text}"
    );
    assert!(
        text.contains(&digest_line) && text.contains("conservation holds"),
        "{text}"
    );

    // The archive keeps the whole chain checkable; the live journal no
    // longer starts at seq 1, so a replay from the genesis is refused.
    let verified = admin(&["journal", "verify", path]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert!(stdout(&verified).contains("archived"), "{}", stdout(&verified));
    let genesis = admin(&["replay", path, "--from-genesis"]);
    assert!(!genesis.status.success());
    assert!(String::from_utf8_lossy(&genesis.stderr).contains("retired"));

    let bad = admin(&["snapshot", path, "--keep", "0"]);
    assert!(!bad.status.success());
}
