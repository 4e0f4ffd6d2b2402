//! Lab 3's users, each with a role (lab 4): who may log in, and how a password is checked
//! without the server ever storing it.
//!
//! A password is stored only as an argon2 hash: a slow, salted, one-way
//! function. Someone who steals the user table gets hashes, and each guess
//! at one costs them the same ~30 ms of work (and 19 MiB of memory) it costs
//! the server, per user, because every hash has its own salt.

use anyhow::anyhow;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};

use crate::rbac::Role;

/// One account. The password itself is nowhere, not even for demo users.
#[derive(Debug)]
pub struct User {
    /// Login name, and the token's `sub`: stable and unique.
    pub username: &'static str,
    /// Display name, the token's `name`.
    pub name: &'static str,
    /// What the user is; `rbac::permissions_of` turns it into the token's
    /// `permissions` at login.
    pub role: Role,
    /// The argon2 hash in PHC format: algorithm, parameters, salt and hash
    /// in one string, so verifying needs nothing else.
    password_hash: &'static str,
}

/// The user table. A real server keeps it in a database; the lab keeps it
/// in the binary, which is enough to show what a row must (not) contain.
/// To add a user, print a hash with `lab3 hash-password` and add a row.
static DEMO_USERS: &[User] = &[
    User {
        username: "jane.doe",
        name: "Jane Doe",
        role: Role::Reader,
        // The course's demo user; the password is `secure123`.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$9VcM9GFdEmOaB44SHsVwQw$cktKo8+MFAJUpBjFwULmH98wR902rGWILWArowKAuHc",
    },
    User {
        username: "alex.admin",
        name: "Alex Admin",
        role: Role::Admin,
        // The password is `admin-pass-123`.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$b2s58Xcvnb4bmc2od69ulA$mjsWDK8lOzEyL03YjyTbZALoH36QDh/J5u9BSdWiYGA",
    },
];

/// Verified against when the username is unknown, so that a login for a
/// user who does not exist takes as long as one with a wrong password.
/// Otherwise the response time would tell an attacker which names exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$CG7TOkoaAWljWEHtYFGubQ$LefHKgz+owRxKhou3Wjtj9ggNdPYbTkI2oQEyGIxWuU";

/// The users who may log in.
#[derive(Debug, Clone, Copy)]
pub struct Users(&'static [User]);

impl Users {
    pub fn demo() -> Users {
        Users(DEMO_USERS)
    }

    /// The user with this username, for `/refresh`: the password was checked
    /// at login, and the refresh token stands for it since.
    pub fn find(&self, username: &str) -> Option<&'static User> {
        self.0.iter().find(|user| user.username == username)
    }

    /// The user with this username and password, or `None` for an unknown
    /// user and a wrong password alike. Takes ~30 ms of CPU on purpose: call
    /// it from `spawn_blocking`, not on the async runtime's threads.
    pub fn verify(&self, username: &str, password: &str) -> Option<&'static User> {
        let user = self.0.iter().find(|user| user.username == username);
        let hash = user.map_or(DUMMY_HASH, |user| user.password_hash);
        // argon2 recomputes the hash with the stored salt and parameters and
        // compares in constant time.
        let matches = PasswordHash::new(hash).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        });
        user.filter(|_| matches)
    }
}

/// A new argon2id hash of `password` with a fresh random salt, in PHC
/// format. Hashing the same password twice gives two different strings.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow!("cannot encode the salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow!("cannot hash the password: {e}"))
}
