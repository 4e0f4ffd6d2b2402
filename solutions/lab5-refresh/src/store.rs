//! The refresh-token store: SQLite through rusqlite.
//!
//! A refresh token is 256 random bits, handed to the client as 43 base64url
//! characters. The database keeps only its SHA-256, so a copy of the
//! database (a backup, a leaked file) lets nobody refresh. A plain hash is
//! enough here, unlike for passwords: the token is random, there is nothing
//! to guess.
//!
//! Every token belongs to a *family*: the login that started it and every
//! token rotated from it. Rotation marks the presented token used and adds
//! its successor to the family. Presenting a used token again means two
//! parties hold it, and the server cannot tell which one is the thief, so it
//! revokes the whole family, newest token included (RFC 9700 §4.14.2).

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

/// Random bytes in a refresh token: twice the 128 bits that make guessing
/// hopeless.
const TOKEN_BYTES: usize = 32;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS families (
        id      INTEGER PRIMARY KEY,
        sub     TEXT    NOT NULL,            -- the user who logged in
        revoked INTEGER NOT NULL DEFAULT 0   -- 1 after logout or a reuse
    );
    CREATE TABLE IF NOT EXISTS refresh_tokens (
        hash       BLOB    PRIMARY KEY,      -- SHA-256 of the token, never the token
        family     INTEGER NOT NULL REFERENCES families(id),
        expires_at INTEGER NOT NULL,         -- milliseconds since the Unix epoch
        used       INTEGER NOT NULL DEFAULT 0 -- 1 once exchanged for a new pair
    );
";

/// The store, shared by all requests. Cloning shares the same connection.
#[derive(Clone)]
pub struct RefreshStore {
    db: Arc<Mutex<Connection>>,
    ttl: Duration,
}

/// A successful rotation: who the family belongs to, and the new token.
#[derive(Debug)]
pub struct Rotated {
    pub sub: String,
    pub token: String,
}

/// Why a refresh token was not exchanged. The client sees `invalid_grant`
/// for both; the difference matters to the server's log.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, malformed, expired, or of a revoked family.
    #[error("unknown, expired or revoked refresh token")]
    Invalid,
    /// Already used: the family has just been revoked.
    #[error("reused refresh token: its family is revoked")]
    Reused,
    /// The database failed; not the client's fault.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl RefreshStore {
    /// Opens (or creates) the database at `path`; `:memory:` keeps it in
    /// memory, for tests. Refresh tokens live for `ttl`.
    pub fn open(path: &Path, ttl: Duration) -> anyhow::Result<RefreshStore> {
        let db = Connection::open(path)
            .with_context(|| format!("cannot open the database `{}`", path.display()))?;
        // WAL lets readers proceed during a write and survives a crash
        // without a torn file; a busy timeout waits for another process's
        // write instead of failing at once.
        db.pragma_update(None, "journal_mode", "WAL")
            .context("cannot switch the database to WAL")?;
        db.busy_timeout(Duration::from_secs(5))
            .context("cannot set the busy timeout")?;
        db.execute_batch(SCHEMA)
            .context("cannot create the tables")?;
        Ok(RefreshStore {
            db: Arc::new(Mutex::new(db)),
            ttl,
        })
    }

    /// Starts a new family for `sub` (a login) and returns its first token.
    pub async fn issue(&self, sub: &str) -> anyhow::Result<String> {
        let sub = sub.to_owned();
        let expires_at = now().saturating_add(millis(self.ttl));
        self.run(move |db| {
            let tx = db.transaction()?;
            tx.execute("INSERT INTO families (sub) VALUES (?1)", params![sub])?;
            let family = tx.last_insert_rowid();
            let token = insert_token(&tx, family, expires_at)?;
            tx.commit()?;
            Ok(token)
        })
        .await
    }

    /// Exchanges `presented` for a new token of the same family.
    ///
    /// Everything happens in one transaction, and the step that consumes
    /// the token is a compare-and-set (`UPDATE … WHERE used = 0`): of many
    /// requests racing with the same token, exactly one changes the row and
    /// wins; the others find it used and revoke the family.
    pub async fn rotate(&self, presented: &str) -> Result<Rotated, RefreshError> {
        let hash = lookup_key(presented).ok_or(RefreshError::Invalid)?;
        let expires_at = now().saturating_add(millis(self.ttl));
        let now = now();
        self.run(move |db| {
            // IMMEDIATE takes the write lock before the first read, so no
            // other connection (another server process on the same file)
            // can slip in between the read and the update.
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row = tx
                .query_row(
                    "SELECT t.family, f.sub, f.revoked, t.expires_at
                       FROM refresh_tokens t JOIN families f ON f.id = t.family
                      WHERE t.hash = ?1",
                    params![hash],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, bool>(2)?,
                            row.get::<_, u64>(3)?,
                        ))
                    },
                )
                .optional()?;
            let Some((family, sub, revoked, token_expires_at)) = row else {
                return Ok(Err(RefreshError::Invalid));
            };
            if revoked {
                return Ok(Err(RefreshError::Invalid));
            }
            let consumed = tx.execute(
                "UPDATE refresh_tokens SET used = 1 WHERE hash = ?1 AND used = 0",
                params![hash],
            )?;
            if consumed == 0 {
                // Used before: someone replays it. Revoke the family, and
                // commit that even though the request fails.
                tx.execute(
                    "UPDATE families SET revoked = 1 WHERE id = ?1",
                    params![family],
                )?;
                tx.commit()?;
                return Ok(Err(RefreshError::Reused));
            }
            if token_expires_at <= now {
                // Dropping `tx` rolls the `used` mark back.
                return Ok(Err(RefreshError::Invalid));
            }
            let token = insert_token(&tx, family, expires_at)?;
            tx.commit()?;
            Ok(Ok(Rotated { sub, token }))
        })
        .await?
    }

    /// Revokes the family of `presented` (logout). `false` when the token
    /// is unknown, which the caller may treat as done: it cannot be used.
    pub async fn revoke_family(&self, presented: &str) -> anyhow::Result<bool> {
        let Some(hash) = lookup_key(presented) else {
            return Ok(false);
        };
        self.run(move |db| {
            let changed = db.execute(
                "UPDATE families SET revoked = 1
                  WHERE id = (SELECT family FROM refresh_tokens WHERE hash = ?1)",
                params![hash],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    /// Runs `work` on the connection in tokio's blocking pool: SQLite calls
    /// block, and a blocked async worker would stall every other request.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            // A panic inside `work` cannot leave a transaction open (it
            // rolls back on drop), so a poisoned lock is still usable.
            let mut db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut db)
        })
        .await
        .context("the database task failed")?
        .context("database error")
    }
}

impl std::fmt::Debug for RefreshStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshStore")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Makes a new random token, stores its hash in `family`, returns the token.
fn insert_token(
    tx: &rusqlite::Transaction<'_>,
    family: i64,
    expires_at: u64,
) -> rusqlite::Result<String> {
    // `rand::fill` uses the thread-local CSPRNG, seeded from the OS.
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::fill(&mut bytes);
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family, expires_at) VALUES (?1, ?2, ?3)",
        params![fingerprint(&bytes), family, expires_at],
    )?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The database key of a presented token, or `None` when it cannot be one
/// of ours (not base64url, wrong length): no need to ask the database.
fn lookup_key(presented: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(presented).ok()?;
    (bytes.len() == TOKEN_BYTES).then(|| fingerprint(&bytes))
}

/// What the database keeps of a token: its SHA-256, never the token.
fn fingerprint(token: &[u8]) -> Vec<u8> {
    Sha256::digest(token).to_vec()
}

/// Milliseconds since the Unix epoch: a TTL below a second (the checks use
/// `--refresh-ttl 200ms`) must not round to "already expired" or "1 s".
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RefreshStore {
        RefreshStore::open(Path::new(":memory:"), Duration::from_secs(60)).unwrap()
    }

    #[tokio::test]
    async fn rotation_consumes_the_old_token() {
        let store = store();
        let first = store.issue("jane.doe").await.unwrap();
        let second = store.rotate(&first).await.unwrap();
        assert_eq!(second.sub, "jane.doe");
        assert_ne!(second.token, first);
        assert!(matches!(
            store.rotate(&first).await,
            Err(RefreshError::Reused)
        ));
        // The reuse revoked the family, including the newest token.
        assert!(matches!(
            store.rotate(&second.token).await,
            Err(RefreshError::Invalid)
        ));
    }

    #[tokio::test]
    async fn unknown_and_malformed_tokens_are_invalid() {
        let store = store();
        let unknown = URL_SAFE_NO_PAD.encode([7u8; TOKEN_BYTES]);
        for token in [unknown.as_str(), "", "not a token", "abc"] {
            assert!(matches!(
                store.rotate(token).await,
                Err(RefreshError::Invalid)
            ));
        }
    }

    #[tokio::test]
    async fn logout_revokes_the_family() {
        let store = store();
        let first = store.issue("jane.doe").await.unwrap();
        let second = store.rotate(&first).await.unwrap();
        assert!(store.revoke_family(&second.token).await.unwrap());
        assert!(matches!(
            store.rotate(&second.token).await,
            Err(RefreshError::Invalid)
        ));
        assert!(!store.revoke_family("unknown").await.unwrap());
    }
}
