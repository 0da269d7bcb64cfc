//! The journal on the real disk: append under `FlushPolicy::Always` against
//! the disk's physical limit, and end to end through the sequencer with the
//! journal as its commit sink.
//!
//! **`journal_append`** appends batches of 1, 64, 1,024 and 8,192 realistic
//! records (workload commands applied to a 100,000-player ledger and encoded
//! with `engine::record::encode`, all before timing) and flushes each batch,
//! as the sequencer does before it replies. Side by side, on the same disk
//! and with the same bytes per batch (the journal's own encoding of the
//! batch, built before timing):
//!
//! * `journal_always`: `Journal::append` + `Journal::flush` (`msync`);
//! * `limit_append_fdatasync`: the physical limit asked for, `write_all` of
//!   the batch at the end of a growing file + `File::sync_data`;
//! * `limit_prealloc_fdatasync`: `write_all_at` into a file zero-filled and
//!   synced beforehand (as the journal's segments are) + `File::sync_data`,
//!   so that the flush needs no metadata update;
//! * `diag_mmap_msync`: the journal's write mechanism alone, `memcpy` into
//!   a populated shared mapping of a zero-filled, synced file + `msync` of
//!   the range; no checksums, no segment preparation;
//! * `diag_prealloc_zerofill_fdatasync`: the journal's design without the
//!   mapping, `write_all_at` + `File::sync_data` into 64 MiB files that a
//!   background thread zero-fills and syncs ahead of need (as the journal's
//!   preparer does; it also deletes the file before last, to bound the disk
//!   space used);
//! * `encode_cpu_only`: the journal's encoding of the batch (framing,
//!   CRC32C, BLAKE3) into memory, no I/O: the CPU part of an append;
//! * `record_encode_cpu_only`: `engine::record::encode` of the batch's
//!   records (the canonical codec), which `JournalSink` does on the sequencer thread before
//!   it appends (outside the timed region of every other variant).
//!
//! Each iteration is one batch: criterion reports records/s and bytes/s.
//!
//! **`journal_e2e`** runs producers -> ring -> sequencer -> `JournalSink`
//! (`Always`) -> replies on the benchmark ledger (1,000,000 funded players,
//! idempotency memory warmed to its limit). `Journal::open` always starts a
//! new journal at sequence number 1, so the ledger is built from an empty
//! [`Fixture`] by running its set-up and warm-up requests *through the
//! journal sink* (4,096 commands per commit, stamped like the fixture
//! stamps them): the journal then holds the ledger's whole history and the
//! sequencer continues it. One or two producers each keep `window` requests
//! in flight (see `sequencer.rs` for the producer loop); latency (submit to
//! reply) goes to HDR histograms printed after the group on lines starting
//! with `journal e2e`, with how busy the sequencer thread was, how much of
//! its time the sink took, and how much CPU other processes used (this is a
//! shared 2-vCPU machine). Last, as a control in the same run, the same
//! ledger continues with `MemorySink::counting()` instead of the journal.
//!
//! Files go under `JOURNAL_BENCH_DIR` (default: the system temp directory),
//! which must not be a tmpfs: the point is the real disk.
//!
//! ```text
//! cargo bench -p croupier-benches --bench journal
//! cargo bench -p croupier-benches --bench journal -- journal_append
//! cargo bench -p croupier-benches --bench journal -- journal_e2e
//! ```

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use croupier_benches::{Fixture, PLAYERS, Producer, cpu_ticks};
use engine::durable::JournalSink;
use engine::sequencer::{
    CommitError, CommitSink, Committed, MemorySink, Sequencer, SequencerConfig, SequencerHandle, SystemClock,
};
use engine::{Config, Ledger, Request};
use hdrhistogram::Histogram;
use journal::format::{BatchHash, encode_batch, encode_batch_into};
use journal::{FlushPolicy, Journal, JournalConfig, SEGMENT_SIZE_DEFAULT_BYTES};
use memmap2::{MmapMut, MmapOptions};
use tempfile::TempDir;

/// Records per appended batch.
const BATCHES: [usize; 4] = [1, 64, 1_024, 8_192];
/// Distinct pre-encoded records, cycled through (about 13 MB of them: more
/// than the caches hold, so the source side is not unrealistically hot).
const POOL: usize = 65_536;
/// Players of the small ledger the append records come from.
const RECORD_PLAYERS: u64 = 100_000;
/// Size of the pre-allocated file of `limit_prealloc_fdatasync` (one segment).
const PREALLOC_BYTES: u64 = SEGMENT_SIZE_DEFAULT_BYTES;

/// Commands per sink commit while the e2e ledger is built through the journal
/// (the sequencer's default batch).
const FILL_BATCH: usize = 4_096;
/// Requests generated per untimed chunk.
const CHUNK: u64 = 1 << 20;
/// (sink, producers, window per producer). The in-memory runs come last:
/// they continue the same ledger without journaling it.
const E2E_RUNS: [(SinkKind, usize, usize); 7] = [
    (SinkKind::Journal, 1, 1),
    (SinkKind::Journal, 1, 1_024),
    (SinkKind::Journal, 1, 16_384),
    (SinkKind::Journal, 2, 1_024),
    (SinkKind::Journal, 2, 16_384),
    (SinkKind::Memory, 1, 1_024),
    (SinkKind::Memory, 1, 16_384),
];
/// Clock ticks per second of `/proc/stat` and `/proc/<pid>/stat` (USER_HZ).
const TICKS_PER_S: f64 = 100.0;

/// The directory the journals go in, checked not to be memory-backed.
fn bench_root() -> PathBuf {
    let root = std::env::var_os("JOURNAL_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&root).expect("create the bench directory");
    let (mount, fs_type, device) = mount_of(&root).unwrap_or_default();
    assert!(
        !matches!(fs_type.as_str(), "tmpfs" | "ramfs"),
        "{} is on {fs_type}: set JOURNAL_BENCH_DIR to a directory on the real disk",
        root.display()
    );
    eprintln!(
        "journal bench: files under {} (mount {mount}, {fs_type} on {device})",
        root.display()
    );
    root
}

/// Mount point, file-system type and device of the mount holding `path`.
fn mount_of(path: &Path) -> Option<(String, String, String)> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let mount = fields.next()?;
            let fs_type = fields.next()?;
            Some((mount.to_owned(), fs_type.to_owned(), device.to_owned()))
        })
        .filter(|(mount, _, _)| path.starts_with(mount))
        .max_by_key(|(mount, _, _)| mount.len())
}

/// `n` committed commands of the realistic mix, and their records encoded
/// as the journal sink encodes them.
fn realistic_records(n: usize) -> (Vec<Committed>, Vec<Vec<u8>>) {
    let mut fixture = Fixture::funded(RECORD_PLAYERS);
    fixture.apply_n(n as u64); // open rounds and history for wins, rollbacks, retries
    let envelopes = fixture.envelopes(n);
    let committed: Vec<Committed> = envelopes
        .into_iter()
        .map(|envelope| {
            let outcome = fixture.ledger.apply(&envelope);
            Committed { envelope, outcome }
        })
        .collect();
    let records = committed.iter().map(engine::record::encode).collect();
    (committed, records)
}

fn always() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: SEGMENT_SIZE_DEFAULT_BYTES,
        flush: FlushPolicy::Always,
    }
}

/// A temporary directory under `root` and its journal.
struct OpenJournal {
    journal: Journal,
    _dir: TempDir,
}

/// A temporary directory under `root` and a plain file in it.
struct PlainFile {
    file: File,
    offset: u64,
    _dir: TempDir,
}

impl PlainFile {
    fn new(root: &Path, prealloc_bytes: u64) -> PlainFile {
        let dir = tempfile::tempdir_in(root).expect("temp dir");
        let file = create_zeroed(&dir.path().join("plain.dat"), prealloc_bytes);
        PlainFile {
            file,
            offset: 0,
            _dir: dir,
        }
    }
}

/// Creates `path` with `size_bytes` zeros written and synced (data, size and
/// the directory entry), as the journal prepares a segment: a page a write,
/// so that the page cache holds page-sized folios and a flush writes back
/// only the pages written since (zeros written 1 MiB at a time made each
/// flush write 1 MiB on Linux 6.18's ext4).
fn create_zeroed(path: &Path, size_bytes: u64) -> File {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .expect("create file");
    let zeros = vec![0u8; 4096];
    let mut left = size_bytes;
    while left > 0 {
        let chunk = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..chunk]).expect("zero-fill");
        left -= chunk as u64;
    }
    file.sync_all().expect("fsync");
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).expect("fsync dir");
    }
    file
}

/// A zero-filled, synced file mapped read-write and populated, as the journal maps a segment.
struct MappedFile {
    map: MmapMut,
    offset: usize,
    _file: File,
    _dir: TempDir,
}

impl MappedFile {
    // The bench measures a memory map like the journal's: unsafe by nature.
    #[allow(unsafe_code)]
    fn new(root: &Path) -> MappedFile {
        let dir = tempfile::tempdir_in(root).expect("temp dir");
        let file = create_zeroed(&dir.path().join("mapped.dat"), PREALLOC_BYTES);
        // SAFETY: the file is ours alone, in a fresh temporary directory, and never truncated.
        let map = unsafe { MmapOptions::new().populate().map_mut(&file) }.expect("mmap");
        MappedFile {
            map,
            offset: 0,
            _file: file,
            _dir: dir,
        }
    }
}

/// 64 MiB files written in place and rolled over, the next one zero-filled
/// by a background thread (which also deletes the one before last).
struct ZeroFilled {
    file: File,
    offset: u64,
    number: u64,
    next: Option<JoinHandle<File>>,
    dir: TempDir,
}

impl ZeroFilled {
    fn new(root: &Path) -> ZeroFilled {
        let dir = tempfile::tempdir_in(root).expect("temp dir");
        let file = create_zeroed(&dir.path().join("0.dat"), PREALLOC_BYTES);
        let mut zero_filled = ZeroFilled {
            file,
            offset: 0,
            number: 0,
            next: None,
            dir,
        };
        zero_filled.prepare_next();
        zero_filled
    }

    fn prepare_next(&mut self) {
        let dir = self.dir.path().to_path_buf();
        let number = self.number + 1;
        self.next = Some(std::thread::spawn(move || {
            if let Some(old) = number.checked_sub(2) {
                let _ = std::fs::remove_file(dir.join(format!("{old}.dat")));
            }
            create_zeroed(&dir.join(format!("{number}.dat")), PREALLOC_BYTES)
        }));
    }

    fn write_and_sync(&mut self, bytes: &[u8]) {
        if self.offset + bytes.len() as u64 > PREALLOC_BYTES {
            self.file = self
                .next
                .take()
                .expect("a file in preparation")
                .join()
                .expect("zero-fill");
            self.number += 1;
            self.offset = 0;
            self.prepare_next();
        }
        self.file.write_all_at(bytes, self.offset).expect("write");
        self.offset += bytes.len() as u64;
        self.file.sync_data().expect("fdatasync");
    }
}

impl Drop for ZeroFilled {
    fn drop(&mut self) {
        if let Some(next) = self.next.take() {
            let _ = next.join();
        }
    }
}

fn append(c: &mut Criterion) {
    let root = bench_root();
    let started = Instant::now();
    let (committed, pool) = realistic_records(POOL);
    let pool_bytes: usize = pool.iter().map(Vec::len).sum();
    let (min, max) = pool
        .iter()
        .map(Vec::len)
        .fold((usize::MAX, 0), |(lo, hi), len| (lo.min(len), hi.max(len)));
    eprintln!(
        "journal_append: {POOL} records encoded in {:.1} s: mean {:.1} B (min {min}, max {max}) + 4 B framing",
        started.elapsed().as_secs_f64(),
        pool_bytes as f64 / POOL as f64,
    );

    let mut group = c.benchmark_group("journal_append");
    let mut summary = Vec::new();
    for batch in BATCHES {
        let slices: Vec<&[Vec<u8>]> = pool.chunks_exact(batch).collect();
        let framed: Vec<Vec<u8>> = slices
            .iter()
            .map(|records| encode_batch(1, BatchHash::GENESIS, records))
            .collect();
        let batch_bytes = framed.iter().map(Vec::len).sum::<usize>() / framed.len();
        group.throughput(Throughput::ElementsAndBytes {
            elements: batch as u64,
            bytes: batch_bytes as u64,
        });

        let mut journal: Option<OpenJournal> = None;
        group.bench_function(BenchmarkId::new("journal_always", batch), |b| {
            let open = journal.get_or_insert_with(|| {
                let dir = tempfile::tempdir_in(&root).expect("temp dir");
                let (journal, _) = Journal::open(dir.path(), always()).expect("open journal");
                OpenJournal { journal, _dir: dir }
            });
            let journal = &mut open.journal;
            let mut k = 0;
            b.iter(|| {
                let records = slices[k % slices.len()];
                k += 1;
                journal.append(journal.next_seq(), records).expect("append");
                journal.flush().expect("flush");
            });
        });
        if let Some(open) = journal.take() {
            let stats = open.journal.stats();
            summary.push(format!(
                "journal_always/{batch}: {} batches, {:.1} MiB, {} msyncs, {} segment rolls ({} waited)",
                stats.batches,
                stats.bytes as f64 / (1 << 20) as f64,
                stats.syncs,
                stats.segment_rolls,
                stats.roll_waits
            ));
        }

        let mut plain: Option<PlainFile> = None;
        group.bench_function(BenchmarkId::new("limit_append_fdatasync", batch), |b| {
            let plain = plain.get_or_insert_with(|| PlainFile::new(&root, 0));
            let mut k = 0;
            b.iter(|| {
                let bytes = &framed[k % framed.len()];
                k += 1;
                plain.file.write_all(bytes).expect("write");
                plain.file.sync_data().expect("fdatasync");
            });
        });
        drop(plain.take());

        let mut prealloc: Option<PlainFile> = None;
        group.bench_function(BenchmarkId::new("limit_prealloc_fdatasync", batch), |b| {
            let plain = prealloc.get_or_insert_with(|| PlainFile::new(&root, PREALLOC_BYTES));
            let mut k = 0;
            b.iter(|| {
                let bytes = &framed[k % framed.len()];
                k += 1;
                if plain.offset + bytes.len() as u64 > PREALLOC_BYTES {
                    plain.offset = 0;
                }
                plain.file.write_all_at(bytes, plain.offset).expect("write");
                plain.offset += bytes.len() as u64;
                plain.file.sync_data().expect("fdatasync");
            });
        });
        drop(prealloc.take());

        let mut mapped: Option<MappedFile> = None;
        group.bench_function(BenchmarkId::new("diag_mmap_msync", batch), |b| {
            let mapped = mapped.get_or_insert_with(|| MappedFile::new(&root));
            let mut k = 0;
            b.iter(|| {
                let bytes = &framed[k % framed.len()];
                k += 1;
                if mapped.offset + bytes.len() > mapped.map.len() {
                    mapped.offset = 0;
                }
                let at = mapped.offset;
                mapped.map[at..at + bytes.len()].copy_from_slice(bytes);
                mapped.map.flush_range(at, bytes.len()).expect("msync");
                mapped.offset += bytes.len();
            });
        });
        drop(mapped.take());

        let mut zero_filled: Option<ZeroFilled> = None;
        group.bench_function(BenchmarkId::new("diag_prealloc_zerofill_fdatasync", batch), |b| {
            let zero_filled = zero_filled.get_or_insert_with(|| ZeroFilled::new(&root));
            let mut k = 0;
            b.iter(|| {
                let bytes = &framed[k % framed.len()];
                k += 1;
                zero_filled.write_and_sync(bytes);
            });
        });
        drop(zero_filled.take());

        let mut buffer = vec![0u8; framed.iter().map(Vec::len).max().unwrap_or(0)];
        group.bench_function(BenchmarkId::new("encode_cpu_only", batch), |b| {
            let mut k = 0;
            let mut hash = BatchHash::GENESIS;
            b.iter(|| {
                let i = k % slices.len();
                k += 1;
                let dst = &mut buffer[..framed[i].len()];
                let header = encode_batch_into(dst, 1 + (k * batch) as u64, hash, slices[i]);
                hash = BatchHash::of_header(&header.to_bytes());
            });
        });

        let sources: Vec<&[Committed]> = committed.chunks_exact(batch).collect();
        group.bench_function(BenchmarkId::new("record_encode_cpu_only", batch), |b| {
            let mut k = 0;
            b.iter(|| {
                let records = sources[k % sources.len()];
                k += 1;
                for record in records {
                    std::hint::black_box(engine::record::encode(record));
                }
            });
        });
    }
    group.finish();
    for line in summary {
        println!("{line}");
    }
}

/// Time spent in the journal sink, shared with the bench thread.
#[derive(Default)]
struct SinkTime {
    ns: AtomicU64,
    commits: AtomicU64,
}

/// `JournalSink`, timed: how much of the sequencer thread the commit takes.
struct TimedSink {
    inner: JournalSink,
    time: Arc<SinkTime>,
}

impl CommitSink for TimedSink {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let started = Instant::now();
        let result = self.inner.commit(batch);
        self.time
            .ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.time.commits.fetch_add(1, Ordering::Relaxed);
        result
    }
}

/// Which sink the sequencer commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SinkKind {
    /// `JournalSink`, `FlushPolicy::Always`: the measurement.
    Journal,
    /// `MemorySink::counting()`: the control, same ledger, same run.
    Memory,
}

impl SinkKind {
    fn name(self) -> &'static str {
        match self {
            SinkKind::Journal => "journal",
            SinkKind::Memory => "memory_sink",
        }
    }
}

/// On-CPU and runnable-but-waiting time of a thread of this process, in
/// nanoseconds (the first two fields of its `schedstat`).
fn sched_ns(tid: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut fields = stat.split_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

/// Thread id of the thread named `name`.
fn thread_named(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).is_ok_and(|c| c.trim() == name))
}

fn sequencer_tid() -> Option<String> {
    (0..100).find_map(|_| {
        std::thread::sleep(Duration::from_millis(1));
        thread_named("sequencer")
    })
}

/// The e2e set-up: a sequencer over the benchmark ledger, journaled (then,
/// for the control runs, the same ledger in memory).
struct E2e {
    journaled: Option<Sequencer<TimedSink>>,
    in_memory: Option<Sequencer<MemorySink>>,
    handle: SequencerHandle,
    sink_time: Arc<SinkTime>,
    fixture: Fixture,
    sequencer_tid: Option<String>,
    dir: TempDir,
    summary: Vec<String>,
}

impl E2e {
    /// Stops the journaled sequencer (if running) and reports what the journal did.
    fn stop_journaled(&mut self) -> Option<Ledger> {
        let sequencer = self.journaled.take()?;
        let commits = self.sink_time.commits.load(Ordering::Relaxed);
        let (ledger, sink) = sequencer.shutdown().expect("clean shutdown");
        let stats = sink.inner.journal().stats();
        self.summary.push(format!(
            "journal_e2e journal after the journaled runs: {commits} commits; {} batches, {:.2} GiB, {} msyncs, \
             {} segment rolls ({} waited); last seq {}, {} requests remembered; journal dir {}",
            stats.batches,
            stats.bytes as f64 / (1u64 << 30) as f64,
            stats.syncs,
            stats.segment_rolls,
            stats.roll_waits,
            ledger.last_seq(),
            ledger.remembered_len(),
            self.dir.path().display(),
        ));
        Some(ledger)
    }

    /// Makes sure the sequencer commits to `kind`.
    fn use_sink(&mut self, kind: SinkKind) {
        match kind {
            SinkKind::Journal => assert!(self.journaled.is_some(), "journaled runs come first"),
            SinkKind::Memory => {
                if let Some(ledger) = self.stop_journaled() {
                    let sequencer =
                        Sequencer::start(ledger, MemorySink::counting(), SystemClock, SequencerConfig::default())
                            .expect("start the sequencer");
                    self.handle = sequencer.handle();
                    self.sequencer_tid = sequencer_tid();
                    self.in_memory = Some(sequencer);
                }
            }
        }
    }
}

/// Builds the benchmark ledger through the journal sink, then starts the sequencer on it.
fn build_e2e(root: &Path) -> E2e {
    let dir = tempfile::tempdir_in(root).expect("temp dir");
    let started = Instant::now();
    let mut fixture = Fixture::empty(PLAYERS);
    let (journal, found) = Journal::open(dir.path().join("journal"), always()).expect("open journal");
    assert_eq!(
        found.last_seq,
        fixture.ledger.last_seq(),
        "a new journal for a new ledger"
    );
    let mut sink = JournalSink::new(journal);
    let mut batch: Vec<Committed> = Vec::with_capacity(FILL_BATCH);
    let commit = |batch: &mut Vec<Committed>, sink: &mut JournalSink| {
        sink.commit(batch).expect("commit the set-up");
        batch.clear();
    };
    // The fixture's `fund` and `warm_to_retention_limit`, through the sink.
    let setup: Vec<Request> = fixture.workload.setup().collect();
    for request in setup {
        let committed = fixture.apply_stamped(request);
        let seq = committed.envelope.seq;
        assert!(
            committed.outcome.is_ok(),
            "set-up request {seq} failed: {:?}",
            committed.outcome
        );
        batch.push(committed);
        if batch.len() == FILL_BATCH {
            commit(&mut batch, &mut sink);
        }
    }
    let funded_s = started.elapsed().as_secs_f64();
    let limit = fixture.ledger.config().idempotency_len_max;
    while fixture.ledger.remembered_len() < limit {
        let request = fixture.workload.next_request();
        batch.push(fixture.apply_stamped(request));
        if batch.len() == FILL_BATCH {
            commit(&mut batch, &mut sink);
        }
    }
    if !batch.is_empty() {
        commit(&mut batch, &mut sink);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sink.journal().stats();
    eprintln!(
        "journal_e2e fixture, built through JournalSink (Always, {FILL_BATCH} per commit): {} players funded in \
         {funded_s:.1} s, {} commands in {elapsed:.1} s ({:.0} cmd/s single thread, apply + encode + journal); \
         {} requests remembered, {} rounds open, last seq {}; journal {:.2} GiB in {} batches, {} segment rolls \
         ({} waited)",
        fixture.ledger.players_len(),
        fixture.ledger.last_seq(),
        fixture.ledger.last_seq() as f64 / elapsed,
        fixture.ledger.remembered_len(),
        fixture.ledger.open_rounds_len(),
        fixture.ledger.last_seq(),
        stats.bytes as f64 / (1u64 << 30) as f64,
        stats.batches,
        stats.segment_rolls,
        stats.roll_waits,
    );
    let ledger = std::mem::replace(&mut fixture.ledger, Ledger::new(Config::default()));
    let sink_time = Arc::new(SinkTime::default());
    let sink = TimedSink {
        inner: sink,
        time: sink_time.clone(),
    };
    let sequencer =
        Sequencer::start(ledger, sink, SystemClock, SequencerConfig::default()).expect("start the sequencer");
    E2e {
        handle: sequencer.handle(),
        journaled: Some(sequencer),
        in_memory: None,
        sink_time,
        fixture,
        sequencer_tid: sequencer_tid(),
        dir,
        summary: Vec::new(),
    }
}

/// What one e2e configuration measured.
struct E2eRun {
    kind: SinkKind,
    producers: usize,
    window: usize,
    latency: Histogram<u64>,
    busy: u64,
    batches: u64,
    commands: u64,
    timed_ns: u64,
    sequencer_run_ns: u64,
    sequencer_wait_ns: u64,
    sink_ns: u64,
    other_ticks: u64,
}

fn end_to_end(c: &mut Criterion) {
    let root = bench_root();
    let mut e2e: Option<E2e> = None;
    let mut runs = Vec::new();
    let mut group = c.benchmark_group("journal_e2e");
    group.throughput(Throughput::Elements(1));
    for (kind, producers, window) in E2E_RUNS {
        let mut run: Option<(Vec<Producer>, E2eRun)> = None;
        let id = BenchmarkId::new(format!("{}_producers_{producers}_window", kind.name()), window);
        group.bench_function(id, |b| {
            let e2e = e2e.get_or_insert_with(|| build_e2e(&root));
            e2e.use_sink(kind);
            let (team, run) = run.get_or_insert_with(|| {
                let team = (0..producers)
                    .map(|_| Producer::new(e2e.handle.clone(), window))
                    .collect();
                let record = E2eRun {
                    kind,
                    producers,
                    window,
                    latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
                    busy: 0,
                    batches: 0,
                    commands: 0,
                    timed_ns: 0,
                    sequencer_run_ns: 0,
                    sequencer_wait_ns: 0,
                    sink_ns: 0,
                    other_ticks: 0,
                };
                (team, record)
            });
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    left -= n;
                    // Dealt round-robin, so both producers stay at the same place in the mix.
                    let mut hands: Vec<Vec<Request>> = (0..team.len()).map(|_| Vec::new()).collect();
                    for (i, request) in e2e.fixture.requests(n as usize).into_iter().enumerate() {
                        hands[i % team.len()].push(request);
                    }
                    let stats = e2e.handle.stats();
                    let tid = e2e.sequencer_tid.as_deref();
                    let before = (
                        stats.batches.load(Ordering::Relaxed),
                        stats.commands.load(Ordering::Relaxed),
                        e2e.sink_time.ns.load(Ordering::Relaxed),
                        tid.and_then(sched_ns),
                        cpu_ticks(),
                    );
                    let start = Instant::now();
                    std::thread::scope(|scope| {
                        let (first, others) = team.split_first_mut().expect("a producer");
                        let mut hands = hands.into_iter();
                        let first_hand = hands.next().expect("a hand");
                        for (producer, hand) in others.iter_mut().zip(hands) {
                            scope.spawn(move || producer.run(hand));
                        }
                        first.run(first_hand);
                    });
                    let elapsed = start.elapsed();
                    timed += elapsed;
                    run.timed_ns += elapsed.as_nanos() as u64;
                    run.batches += stats.batches.load(Ordering::Relaxed) - before.0;
                    run.commands += stats.commands.load(Ordering::Relaxed) - before.1;
                    run.sink_ns += e2e.sink_time.ns.load(Ordering::Relaxed) - before.2;
                    if let (Some(before), Some(after)) = (before.3, tid.and_then(sched_ns)) {
                        run.sequencer_run_ns += after.0 - before.0;
                        run.sequencer_wait_ns += after.1 - before.1;
                    }
                    if let (Some(before), Some(after)) = (before.4, cpu_ticks()) {
                        let machine = after.0.saturating_sub(before.0);
                        let own = after.1.saturating_sub(before.1);
                        run.other_ticks += machine.saturating_sub(own);
                    }
                }
                timed
            });
        });
        if let Some((team, mut run)) = run.take() {
            for producer in team {
                run.latency.add(&producer.latency).expect("same bounds");
                run.busy += producer.busy;
            }
            runs.push(run);
        }
    }
    group.finish();

    for run in &runs {
        let h = &run.latency;
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
        let timed_s = run.timed_ns as f64 / 1e9;
        let pct = |ns: u64| 100.0 * ns as f64 / run.timed_ns.max(1) as f64;
        println!(
            "journal e2e sink={} producers={} window={} (in flight <= {}): {:.0} cmd/s over the timed regions; \
             p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us over {} requests (submit to reply, \
             warm-up included); mean batch {:.0} commands over {} batches; sequencer thread on CPU {:.0} %, \
             runnable but waiting for a CPU {:.0} %, in the sink {:.0} % ({:.0} us per commit); other processes \
             used {:.2} CPUs; ring busy {} times",
            run.kind.name(),
            run.producers,
            run.window,
            run.producers * run.window,
            run.commands as f64 / timed_s,
            us(0.50),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1_000.0,
            h.len(),
            run.commands as f64 / run.batches.max(1) as f64,
            run.batches,
            pct(run.sequencer_run_ns),
            pct(run.sequencer_wait_ns),
            pct(run.sink_ns),
            run.sink_ns as f64 / 1_000.0 / run.batches.max(1) as f64,
            run.other_ticks as f64 / TICKS_PER_S / timed_s.max(1e-9),
            run.busy,
        );
    }
    if let Some(mut e2e) = e2e {
        drop(e2e.stop_journaled());
        if let Some(sequencer) = e2e.in_memory.take() {
            drop(sequencer.shutdown().expect("clean shutdown"));
        }
        for line in &e2e.summary {
            eprintln!("{line}");
        }
    }
}

criterion_group! {
    name = append_benches;
    config = croupier_benches::criterion_config(1, 4);
    targets = append
}
criterion_group! {
    name = e2e_benches;
    config = croupier_benches::criterion_config(2, 6);
    targets = end_to_end
}
criterion_main!(append_benches, e2e_benches);
