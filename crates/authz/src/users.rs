//! The demo users who may log in at `/authorize`, and the scopes each may
//! be granted (lab 4's permissions, as OAuth scopes).
//!
//! Passwords are stored as the argon2 hashes lab 6 uses: the server never
//! holds a password, only a slow, salted, one-way function of it.

use argon2::{Argon2, PasswordHash, PasswordVerifier};

pub struct User {
    /// Login name, and the token's `sub`.
    pub username: &'static str,
    /// The most this user may be granted; a client asks for a subset.
    pub scopes: &'static [&'static str],
    /// argon2id in PHC format: parameters, salt and hash in one string.
    password_hash: &'static str,
}

static DEMO_USERS: &[User] = &[
    User {
        username: "jane.doe",
        scopes: &["User.Read", "Orders.Read"],
        // The password is `secure123`.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$9VcM9GFdEmOaB44SHsVwQw$cktKo8+MFAJUpBjFwULmH98wR902rGWILWArowKAuHc",
    },
    User {
        username: "alex.admin",
        scopes: &["User.Read", "Orders.Read", "Orders.Delete"],
        // The password is `admin-pass-123`.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$b2s58Xcvnb4bmc2od69ulA$mjsWDK8lOzEyL03YjyTbZALoH36QDh/J5u9BSdWiYGA",
    },
];

/// Verified against for an unknown username, so that its answer takes as
/// long as a wrong password's and does not tell which names exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$CG7TOkoaAWljWEHtYFGubQ$LefHKgz+owRxKhou3Wjtj9ggNdPYbTkI2oQEyGIxWuU";

pub fn find(username: &str) -> Option<&'static User> {
    DEMO_USERS.iter().find(|user| user.username == username)
}

/// The user with this username and password, or `None` for an unknown user
/// and a wrong password alike. Takes ~30 ms of CPU on purpose: call it from
/// `spawn_blocking`.
pub fn verify(username: &str, password: &str) -> Option<&'static User> {
    let user = find(username);
    let hash = user.map_or(DUMMY_HASH, |user| user.password_hash);
    let matches = PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    });
    user.filter(|_| matches)
}
