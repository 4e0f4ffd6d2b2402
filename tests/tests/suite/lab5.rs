use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab5").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab5", "lab5-solution").await,
        Vec::<String>::new()
    );
}

/// The starter stores raw tokens, exchanges none, revokes nothing and its
/// client never refreshes: only login and the answers that are refusals
/// anyway pass.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    common::assert_starter_fails(
        "lab5",
        &[
            "stores_refresh_tokens_only_as_hashes",
            "refresh_rotates_the_pair",
            "reuse_revokes_the_whole_family",
            "keeps_access_and_refresh_tokens_apart",
            "concurrent_refreshes_have_at_most_one_winner",
            "rotation_is_atomic_across_processes",
            "logout_revokes_the_family",
            "restart_keeps_issued_tokens_and_revocations",
            "client_refreshes_once_on_401_and_retries",
            "client_gives_up_when_the_refresh_is_refused",
            "client_refreshes_at_most_once_per_request",
        ],
    )
    .await;
}
