use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab3").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab3", "lab3-solution").await,
        Vec::<String>::new()
    );
}

/// Nobody can log in to the starter, `/resource` answers `{}` and the
/// client never logs in. Lab 2's middleware is finished code, so the checks
/// that only need it to refuse (or admit) a token already pass.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    common::assert_starter_fails(
        "lab3",
        &[
            "login_returns_a_token_pair_for_jane_doe",
            "login_refuses_a_wrong_password_and_an_unknown_user_alike",
            "login_takes_as_long_for_an_unknown_user",
            "login_answers_a_bad_body_with_400_and_get_with_405",
            "refresh_token_is_not_an_access_token",
            "resource_returns_the_callers_data",
            "whoami_answers_with_the_logged_in_user",
            "survives_malformed_authorization_headers",
            "client_logs_in_and_calls_whoami",
            "client_reports_a_failed_login",
        ],
    )
    .await;
}
