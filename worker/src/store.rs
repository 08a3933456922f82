//! The daemon's own state in an embedded, crash-safe store (redb: copy-on-write B-trees, every commit
//! durable before it returns). Each record is a JSON value under a string key; every state change is one
//! committed write, made *before* the action it announces (a claim, a submission, an attestation), so that a
//! process killed at any point restarts from a record that is at worst one step behind the chain, and the
//! chain settles which.

use anyhow::{Context, Result};
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

const STATE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state");

/// Loads of one scene that ended the process before a daemon gives up on the scene: one may be an
/// operator's `kill -9`, two in a row are the scene.
pub const LOAD_CRASHES: u32 = 2;

/// Key prefix of the scene-load marks.
const LOADING: &str = "loading/";

/// The store.
pub struct Store {
    db: Database,
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
        tx.open_table(STATE)?;
        tx.commit()?;
        Ok(Self { db })
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

    /// Loads of scene `cid` that were begun and never ended: each one ended the process (an abort, the
    /// out-of-memory killer) while the scene was loaded or rendered.
    pub fn unfinished_loads(&self, cid: &str) -> Result<u32> {
        Ok(self.get(&format!("{LOADING}{cid}"))?.unwrap_or(0))
    }

    /// Marks a load of scene `cid` as begun, before a load that could end the process.
    pub fn begin_load(&self, cid: &str) -> Result<()> {
        let n = self.unfinished_loads(cid)?;
        self.put(&format!("{LOADING}{cid}"), &(n + 1))
    }

    /// The load of scene `cid` returned (whatever its result): its marks are cleared.
    pub fn end_load(&self, cid: &str) -> Result<()> {
        self.delete(&format!("{LOADING}{cid}"))
    }

    /// Every scene with unfinished loads, and their count.
    pub fn unfinished_loads_all(&self) -> Result<Vec<(String, u32)>> {
        Ok(self
            .list::<u32>(LOADING)?
            .into_iter()
            .map(|(k, n)| (k.trim_start_matches(LOADING).to_owned(), n))
            .collect())
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
}
