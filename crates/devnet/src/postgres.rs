//! Databases on the project's private Postgres cluster (`scripts/pg.sh`, 127.0.0.1:55432).

use anyhow::{Context, Result, bail, ensure};
use sqlx::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The cluster's admin URL: `TESSERA_TEST_DATABASE_URL` if set, else whatever `scripts/pg.sh start` prints
/// (it initialises and starts the cluster the first time).
pub fn cluster_url() -> Result<String> {
    if let Ok(u) = std::env::var("TESSERA_TEST_DATABASE_URL") {
        return Ok(u);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .context("running scripts/pg.sh start")?;
    ensure!(
        out.status.success(),
        "scripts/pg.sh start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates an empty database named `<prefix>_<pid>_<n>_<nanos>` and returns its URL. `scripts/pg.sh
/// drop-test-dbs` removes those of the prefixes `it` and `bench`.
pub async fn fresh_database(prefix: &str) -> Result<String> {
    let admin = cluster_url()?;
    let name = format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos()
    );
    ensure!(
        name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "database name {name:?}"
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .context("connecting to the Postgres cluster")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    match admin.rfind('/') {
        Some(i) => Ok(format!("{}/{name}", &admin[..i])),
        None => bail!("database URL {admin} has no database name"),
    }
}
