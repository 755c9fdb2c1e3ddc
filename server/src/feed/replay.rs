//! Recording and replaying a feed.
//!
//! `--record PATH` appends every tick's snapshot to PATH as one line of
//! wire JSON (`{"type":"snapshot",…}`, exactly what v1 clients receive), so
//! a real trading day can be kept and replayed later. `--feed replay:PATH`
//! plays such a file back: each recorded line is one tick, spaced as it was
//! recorded (the difference of the recorded `ts`) divided by
//! `--replay-speed`, or back to back with `max`; with `--replay-loop` it
//! starts over at the end. The server stamps its own `seq` and `ts`; the
//! rest of each snapshot is replayed as recorded.
//!
//! The file is read a line at a time, so a whole day (tens of thousands of
//! 12 KB lines) costs one line of memory. A line that is not a recorded
//! snapshot is skipped and counted (`bad_line`), never sent.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use marketfeed_protocol::{decode_server, encode_server, MarketSnapshot, ServerMessage};

/// Why a recording or a replay could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be opened or created.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The replay file holds no recorded snapshot at all.
    #[error("{}: no recorded snapshot in the file", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A replay speed that is neither a positive number nor `max`.
    #[error("invalid replay speed {0:?}: a positive number (1, 10, 0.5) or \"max\"")]
    Speed(String),
}

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplaySpeed {
    /// Recorded spacing divided by this factor.
    Times(f64),
    /// Back to back, as fast as the fan-out goes.
    Max,
}

impl FromStr for ReplaySpeed {
    type Err = ReplayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "max" {
            return Ok(Self::Max);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Self::Times(x)),
            _ => Err(ReplayError::Speed(s.to_owned())),
        }
    }
}

/// A recorded file being played back.
#[derive(Debug)]
pub struct Replay {
    path: PathBuf,
    lines: io::Lines<BufReader<File>>,
    speed: ReplaySpeed,
    looped: bool,
    /// Recorded `ts` of the previous snapshot, and the spacing before it.
    prev_ts: Option<u64>,
    last_gap: Duration,
    /// Lines skipped because they were not a recorded snapshot.
    bad_lines: u64,
    /// Times the file was started over.
    loops: u64,
    ended: bool,
}

impl Replay {
    /// Opens `path` and checks it holds at least one snapshot.
    pub fn open(path: &Path, speed: ReplaySpeed, looped: bool) -> Result<Self, ReplayError> {
        let has_snapshot = open_lines(path)?.map_while(Result::ok).any(|line| {
            matches!(
                decode_server(line.as_bytes()),
                Ok(ServerMessage::Snapshot(_))
            )
        });
        if !has_snapshot {
            return Err(ReplayError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            lines: open_lines(path)?,
            speed,
            looped,
            prev_ts: None,
            last_gap: Duration::from_secs(1),
            bad_lines: 0,
            loops: 0,
            ended: false,
        })
    }

    /// The next recorded snapshot and how long after the previous one it
    /// is due; `None` once the file is played out (without loop).
    pub fn next_tick(&mut self) -> Option<(MarketSnapshot, Duration)> {
        let snapshot = self.next_snapshot()?;
        let gap = match self.prev_ts {
            Some(prev) if snapshot.ts > prev => Duration::from_micros(snapshot.ts - prev),
            // The first line, or after a loop: keep the last spacing.
            _ => self.last_gap,
        };
        self.prev_ts = Some(snapshot.ts);
        self.last_gap = gap;
        let delay = match self.speed {
            ReplaySpeed::Max => Duration::ZERO,
            ReplaySpeed::Times(x) => gap.div_f64(x),
        };
        Some((snapshot, delay))
    }

    /// Lines skipped so far because they were not a recorded snapshot.
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    /// Times the file was started over.
    pub fn loops(&self) -> u64 {
        self.loops
    }

    /// Whether the file is played out (never, with loop).
    pub fn ended(&self) -> bool {
        self.ended
    }

    fn next_snapshot(&mut self) -> Option<MarketSnapshot> {
        if self.ended {
            return None;
        }
        let mut restarted = false;
        loop {
            match self.lines.next() {
                Some(Ok(line)) => match decode_server(line.as_bytes()) {
                    Ok(ServerMessage::Snapshot(s)) => return Some(s),
                    _ if line.trim().is_empty() => {}
                    _ => self.bad_lines += 1,
                },
                Some(Err(e)) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "replay read failed");
                    self.bad_lines += 1;
                    if e.kind() != io::ErrorKind::InvalidData {
                        self.ended = true;
                        return None;
                    }
                }
                // A loop over a file with no snapshot left would spin.
                None if self.looped && !restarted => match open_lines(&self.path) {
                    Ok(lines) => {
                        self.lines = lines;
                        self.prev_ts = None;
                        self.loops += 1;
                        restarted = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "replay file could not be reopened");
                        self.ended = true;
                        return None;
                    }
                },
                None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }
}

fn open_lines(path: &Path) -> Result<io::Lines<BufReader<File>>, ReplayError> {
    File::open(path)
        .map(|f| BufReader::new(f).lines())
        .map_err(|source| ReplayError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Appends every tick's snapshot to a file.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Recorder {
    /// Opens `path` for appending (created if missing).
    pub fn create(path: &Path) -> Result<Self, ReplayError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ReplayError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            out: Some(BufWriter::new(file)),
        })
    }

    /// Appends one snapshot as a line and flushes it. A failed write is
    /// logged once and ends the recording; serving goes on.
    pub fn record(&mut self, snapshot: &MarketSnapshot) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let line = encode_server(&ServerMessage::Snapshot(snapshot.clone()));
        let written = out
            .write_all(&line)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "recording failed; recording stopped");
            self.out = None;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::feed::{Simulator, SnapshotSource};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("marketfeed-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    fn recorded(path: &Path, n: u64) -> Vec<MarketSnapshot> {
        let mut sim = Simulator::new(7);
        let mut rec = Recorder::create(path).unwrap();
        (1..=n)
            .map(|i| {
                let mut s = sim.next_snapshot().unwrap();
                s.seq = i;
                s.ts = 1_000_000 * i;
                rec.record(&s);
                s
            })
            .collect()
    }

    #[test]
    fn record_then_replay_gives_the_same_snapshots_in_order() {
        let path = temp("same.jsonl");
        let original = recorded(&path, 5);
        let mut replay = Replay::open(&path, ReplaySpeed::Times(10.0), false).unwrap();
        let mut back = Vec::new();
        while let Some((s, delay)) = replay.next_tick() {
            assert_eq!(delay, Duration::from_millis(100), "1 s recorded at 10x");
            back.push(s);
        }
        assert_eq!(back, original);
        assert!(replay.ended());
        assert_eq!(replay.bad_lines(), 0);
    }

    #[test]
    fn loop_starts_over_and_bad_lines_are_skipped() {
        let path = temp("loop.jsonl");
        let original = recorded(&path, 2);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage\n{\"type\":\"pong\",\"id\":1}\n")
            .unwrap();
        let mut replay = Replay::open(&path, ReplaySpeed::Max, true).unwrap();
        let seqs: Vec<u64> = (0..5).map(|_| replay.next_tick().unwrap().0.seq).collect();
        assert_eq!(seqs, [1, 2, 1, 2, 1]);
        assert_eq!(replay.loops(), 2);
        assert_eq!(replay.bad_lines(), 4);
        assert_eq!(replay.next_tick().unwrap().1, Duration::ZERO);
        assert_eq!(original.len(), 2);
    }

    #[test]
    fn missing_and_empty_files_and_bad_speeds_are_clear_errors() {
        let missing = temp("missing.jsonl");
        let err = Replay::open(&missing, ReplaySpeed::Max, false).unwrap_err();
        assert!(err.to_string().contains("missing.jsonl"), "{err}");
        let empty = temp("empty.jsonl");
        std::fs::write(&empty, "not a snapshot\n").unwrap();
        assert!(matches!(
            Replay::open(&empty, ReplaySpeed::Max, true),
            Err(ReplayError::Empty { .. })
        ));
        assert_eq!("max".parse::<ReplaySpeed>().unwrap(), ReplaySpeed::Max);
        assert_eq!(
            "2.5".parse::<ReplaySpeed>().unwrap(),
            ReplaySpeed::Times(2.5)
        );
        for bad in ["0", "-1", "fast", "inf", "NaN"] {
            assert!(bad.parse::<ReplaySpeed>().is_err(), "{bad}");
        }
    }
}
