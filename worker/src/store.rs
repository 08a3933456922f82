//! The daemon's own state in an embedded, crash-safe store (redb: copy-on-write B-trees, every commit
//! durable before it returns). Each record is a JSON value under a string key; every state change is one
//! committed write, made *before* the action it announces (a claim, a submission, an attestation), so that a
//! process killed at any point restarts from a record that is at worst one step behind the chain, and the
//! chain settles which.

use anyhow::{Context, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

const STATE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state");

/// Loads of one scene that ended the process before a daemon gives up on the scene: one may be an
/// operator's `kill -9`, two in a row are the scene.
pub const LOAD_CRASHES: u32 = 2;

/// Key prefix of the scene-load marks: `loading/<cid>` holds the runs (see [`Store::run`]) that began a load of
/// the scene and had not ended it.
const LOADING: &str = "loading/";

/// Key of the last run's number.
const RUN: &str = "run";

/// A scene's load marks as stored: the runs with a load in progress; an older store's count of loads is read as
/// one run.
#[derive(serde::Deserialize, Serialize)]
#[serde(untagged)]
enum Marks {
    Runs(Vec<u64>),
    Count(u32),
}

impl Marks {
    fn runs(self) -> Vec<u64> {
        match self {
            Self::Runs(r) => r,
            // That store counted loads, not runs: one process end during overlapping loads left 2. Read as at
            // most one run (a number no run takes), so that an upgrade never turns one end into two.
            Self::Count(0) => Vec::new(),
            Self::Count(_) => vec![u64::MAX],
        }
    }
}

/// A scene load in progress ([`Store::mark_load`]): ends it when dropped.
pub struct LoadMark {
    store: std::sync::Arc<Store>,
    cid: String,
}

impl Drop for LoadMark {
    fn drop(&mut self) {
        if let Err(e) = self.store.end_load(&self.cid) {
            tracing::warn!(scene = %self.cid, error = %format!("{e:#}"), "clearing a load mark");
        }
    }
}

/// The store.
pub struct Store {
    db: Database,
    /// This process's run: one more than the last opener's, so marks left by earlier runs tell process ends
    /// apart from loads this one has in progress.
    run: u64,
    /// Loads in progress in this run, by scene: several checks may load one scene at once, and it is the run,
    /// not each load, that a process end leaves marked.
    loading: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// Set once the daemon is stopping ([`Store::abandon_run`]): loads begun from then on are not marked.
    stopping: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)
            .with_context(|| format!("opening the state store {}", path.display()))?;
        let tx = db.begin_write()?;
        let run = {
            let mut t = tx.open_table(STATE)?;
            let last: u64 = match t.get(RUN)? {
                Some(v) => serde_json::from_slice(v.value()).context("decoding the run number")?,
                None => 0,
            };
            let run = last + 1;
            t.insert(RUN, serde_json::to_vec(&run)?.as_slice())?;
            run
        };
        tx.commit()?;
        Ok(Self {
            db,
            run,
            loading: std::sync::Mutex::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// This process's run number (each opening of the store is one run).
    pub fn run(&self) -> u64 {
        self.run
    }

    /// Ties the store to one deployment (`id` names the chain and the market): a store first opened for
    /// another one is refused, for its cursor, tasks and duties would be read against the wrong contract.
    pub fn bind(&self, id: &str) -> Result<()> {
        match self.get::<String>("deployment")? {
            None => self.put("deployment", &id),
            Some(bound) if bound == id => Ok(()),
            Some(bound) => anyhow::bail!(
                "the state store belongs to {bound}, and this daemon is configured for {id}: give it another \
                 data_dir (or remove the store to start over)"
            ),
        }
    }

    /// Writes `value` under `key`, durably.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)?;
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(STATE)?;
            t.insert(key, bytes.as_slice())?;
        }
        tx.commit().with_context(|| format!("committing {key}"))?;
        Ok(())
    }

    /// The value under `key`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(STATE)?;
        match t.get(key)? {
            Some(v) => Ok(Some(
                serde_json::from_slice(v.value()).with_context(|| format!("decoding {key}"))?,
            )),
            None => Ok(None),
        }
    }

    /// Every (key, value) whose key starts with `prefix`, in key order.
    pub fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(STATE)?;
        let mut out = Vec::new();
        for item in t.range(prefix..)? {
            let (k, v) = item?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((
                key.to_owned(),
                serde_json::from_slice(v.value()).with_context(|| format!("decoding {key}"))?,
            ));
        }
        Ok(out)
    }

    /// Runs that ended (the process stopped: an abort, the out-of-memory killer, `kill -9`) while they loaded
    /// or rendered scene `cid`, since its last load that returned. Loads this run has in progress do not count.
    pub fn unfinished_loads(&self, cid: &str) -> Result<u32> {
        let runs = self.marks(&format!("{LOADING}{cid}"))?;
        Ok(self.ended(&runs))
    }

    /// Marks a load of scene `cid` as begun, before a load that could end the process. Loads of one scene may
    /// overlap; the run is marked once. Loads take [`Store::mark_load`], whose guard ends the mark; a bare
    /// mark, never ended, is what a run that ended mid-load leaves.
    pub fn begin_load(&self, cid: &str) -> Result<()> {
        let mut loading = self.lock_loading();
        let n = loading.entry(cid.to_owned()).or_insert(0);
        if *n == 0 && !self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            let key = format!("{LOADING}{cid}");
            let mut runs = self.marks(&key)?;
            if !runs.contains(&self.run) {
                runs.push(self.run);
                self.put(&key, &Marks::Runs(runs))?;
            }
        }
        *n += 1;
        Ok(())
    }

    /// A load of scene `cid` returned (whatever its result). When it was this run's last one in progress, the
    /// scene's marks are cleared: the scene loaded, so earlier process ends were not its doing.
    fn end_load(&self, cid: &str) -> Result<()> {
        let mut loading = self.lock_loading();
        if let Some(n) = loading.get_mut(cid)
            && *n > 1
        {
            *n -= 1;
            return Ok(());
        }
        loading.remove(cid);
        self.delete(&format!("{LOADING}{cid}"))
    }

    /// Marks a load of scene `cid` as begun ([`Store::begin_load`]) and returns the guard that ends it
    /// ([`Store::end_load`]) when dropped: move it into the thread that loads, so that the mark lasts exactly
    /// as long as the load, whoever stops waiting for it.
    pub fn mark_load(self: &std::sync::Arc<Self>, cid: &str) -> Result<LoadMark> {
        self.begin_load(cid)?;
        Ok(LoadMark {
            store: self.clone(),
            cid: cid.to_owned(),
        })
    }

    /// The daemon stops of its own accord (a signal, an error returned): its loads still in progress did not
    /// end it, so this run's marks go, and earlier runs' stay; loads begun from now on are not marked (a
    /// supervisor's SIGKILL after its grace period is no scene's doing). A load that returns after this
    /// clears its scene as usual.
    pub fn abandon_run(&self) -> Result<()> {
        let mut loading = self.lock_loading();
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        loading.clear();
        for (key, _) in self.list::<Marks>(LOADING)? {
            self.unmark_run(&key)?;
        }
        Ok(())
    }

    /// Removes this run from the marks under `key` (the key with them when none is left).
    fn unmark_run(&self, key: &str) -> Result<()> {
        let mut runs = self.marks(key)?;
        if !runs.contains(&self.run) {
            return Ok(());
        }
        runs.retain(|r| *r != self.run);
        if runs.is_empty() {
            self.delete(key)
        } else {
            self.put(key, &Marks::Runs(runs))
        }
    }

    /// Forgets scene `cid`'s marks (a daemon that refused the scene for them).
    pub fn clear_loads(&self, cid: &str) -> Result<()> {
        let _loading = self.lock_loading();
        self.delete(&format!("{LOADING}{cid}"))
    }

    /// Every scene that ended a run while loaded, and how many runs it ended.
    pub fn unfinished_loads_all(&self) -> Result<Vec<(String, u32)>> {
        let mut out = Vec::new();
        for (k, m) in self.list::<Marks>(LOADING)? {
            let ended = self.ended(&m.runs());
            if ended > 0 {
                out.push((k.trim_start_matches(LOADING).to_owned(), ended));
            }
        }
        Ok(out)
    }

    fn marks(&self, key: &str) -> Result<Vec<u64>> {
        Ok(self.get::<Marks>(key)?.map(Marks::runs).unwrap_or_default())
    }

    fn ended(&self, runs: &[u64]) -> u32 {
        let n = runs.iter().filter(|r| **r != self.run).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn lock_loading(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u32>> {
        // The map holds plain counts: one left by a panicking holder is still whole.
        self.loading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(STATE)?;
            t.remove(key)?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn survives_reopening_and_lists_by_prefix() {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            s.put("task/1/2", &5u32).unwrap();
            s.put("task/1/3", &6u32).unwrap();
            s.put("verdict/1", &7u32).unwrap();
            s.delete("task/1/3").unwrap();
        }
        let s = Store::open(&path).unwrap();
        s.bind("chain 1 market 0xaa").unwrap();
        s.bind("chain 1 market 0xaa").unwrap();
        let e = s.bind("chain 2 market 0xbb").unwrap_err().to_string();
        assert!(
            e.contains("belongs to chain 1 market 0xaa") && e.contains("configured for chain 2"),
            "{e}"
        );
        let tasks: Vec<(String, u32)> = s.list("task/").unwrap();
        assert_eq!(tasks, vec![("task/1/2".to_owned(), 5)]);
        assert_eq!(s.get::<u32>("verdict/1").unwrap(), Some(7));
        assert_eq!(s.get::<u32>("nothing").unwrap(), None);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-store-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.redb")
    }

    /// A run's overlapping loads of one scene are not process ends: a check that starts while another's
    /// render of the same scene is returning never finds the scene marked (it once found 2, and voted
    /// "unloadable" against honest work).
    #[test]
    fn overlapping_loads_in_one_run_are_not_process_ends() {
        let path = scratch("overlap");
        let s = std::sync::Arc::new(Store::open(&path).unwrap());
        s.begin_load("scene").unwrap();
        s.begin_load("scene").unwrap();
        assert_eq!(s.unfinished_loads("scene").unwrap(), 0);
        s.end_load("scene").unwrap();
        assert_eq!(
            s.get::<Vec<u64>>("loading/scene").unwrap(),
            Some(vec![s.run()])
        );
        s.end_load("scene").unwrap();
        assert_eq!(s.get::<Vec<u64>>("loading/scene").unwrap(), None);

        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        s.begin_load("scene").unwrap();
                        assert_eq!(s.unfinished_loads("scene").unwrap(), 0);
                        s.end_load("scene").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(s.unfinished_loads_all().unwrap().is_empty());
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    /// Each run that ended with loads of a scene in progress counts once, however many it had; a load that
    /// returns clears the scene's count ("in a row").
    #[test]
    fn runs_that_ended_while_loading_are_counted_once_each() {
        let path = scratch("ended");
        let first = {
            let s = Store::open(&path).unwrap();
            s.begin_load("scene").unwrap();
            s.begin_load("scene").unwrap();
            s.begin_load("other").unwrap();
            s.end_load("other").unwrap();
            s.run()
        };
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.run(), first + 1);
            assert_eq!(s.unfinished_loads("scene").unwrap(), 1);
            assert_eq!(s.unfinished_loads("other").unwrap(), 0);
            s.begin_load("scene").unwrap();
            assert_eq!(s.unfinished_loads("scene").unwrap(), 1);
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.unfinished_loads("scene").unwrap(), 2);
        assert_eq!(
            s.unfinished_loads_all().unwrap(),
            vec![("scene".to_owned(), 2)]
        );
        s.begin_load("scene").unwrap();
        s.end_load("scene").unwrap();
        assert_eq!(s.unfinished_loads("scene").unwrap(), 0);

        // A store written before runs were recorded holds a count of loads (two overlapping loads in one run
        // that ended left 2): read as one ended run, and kept with this run's mark.
        s.put("loading/old", &2u32).unwrap();
        assert_eq!(s.unfinished_loads("old").unwrap(), 1);
        s.begin_load("old").unwrap();
        assert_eq!(
            s.get::<Vec<u64>>("loading/old").unwrap(),
            Some(vec![u64::MAX, s.run()])
        );
        s.clear_loads("old").unwrap();
        assert!(s.unfinished_loads_all().unwrap().is_empty());
        drop(s);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    /// A daemon that stops of its own accord with loads in progress is not a process end: only its own mark
    /// goes, and earlier runs' marks stay.
    #[test]
    fn stopping_with_a_load_in_progress_keeps_earlier_runs_marks() {
        let path = scratch("stop");
        Store::open(&path).unwrap().begin_load("scene").unwrap(); // run 1 ends while loading
        {
            let s = Store::open(&path).unwrap(); // run 2 stops with two loads in progress
            s.begin_load("scene").unwrap();
            s.begin_load("scene").unwrap();
            s.begin_load("other").unwrap();
            assert_eq!(
                s.get::<Vec<u64>>("loading/scene").unwrap().map(|r| r.len()),
                Some(2)
            );
            s.abandon_run().unwrap();
            assert_eq!(
                s.get::<Vec<u64>>("loading/scene").unwrap().map(|r| r.len()),
                Some(1)
            );
            assert_eq!(s.get::<Vec<u64>>("loading/other").unwrap(), None);
            // A load that returns after the stop still clears its scene.
            s.end_load("scene").unwrap();
            assert_eq!(s.get::<Vec<u64>>("loading/scene").unwrap(), None);
            // One begun while stopping is not marked.
            s.begin_load("late").unwrap();
            assert_eq!(s.get::<Vec<u64>>("loading/late").unwrap(), None);
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.unfinished_loads("scene").unwrap(), 0);
        drop(s);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
