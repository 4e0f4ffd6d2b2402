use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab2").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab2", "lab2-solution").await,
        Vec::<String>::new()
    );
}

/// The starter lets every request through, cannot mint and refuses every
/// token it is asked to verify: only "a valid token works" passes.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    common::assert_starter_fails(
        "lab2",
        &[
            "refuses_a_jwt_secret_shorter_than_32_bytes",
            "mints_an_hs256_token",
            "mints_the_admin_claim_and_the_ttl",
            "mint_refuses_a_ttl_that_overflows",
            "verifies_a_token_and_prints_its_claims",
            "verify_says_why_a_token_is_refused",
            "rejects_a_missing_token_with_401",
            "rejects_a_malformed_header_with_401",
            "rejects_a_bad_signature_with_401",
            "rejects_a_token_expired_past_the_leeway_with_401",
            "rejects_other_algorithms_and_missing_exp_with_401",
            "survives_malformed_authorization_headers",
            "session_id_is_not_a_credential",
            "whoami_names_the_token_subject",
            "client_uses_a_minted_token_end_to_end",
            "client_reports_an_expired_token",
        ],
    )
    .await;
}
