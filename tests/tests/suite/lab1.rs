use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab1").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab1", "lab1-solution").await,
        Vec::<String>::new()
    );
}

/// The starter lets every request through and its client sends no header:
/// only the "the right secret works" checks pass.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    common::assert_starter_fails(
        "lab1",
        &[
            "rejects_missing_authorization_with_401",
            "rejects_a_wrong_secret_with_403",
            "rejects_other_schemes_with_403",
            "survives_malformed_authorization_headers",
            "reads_the_secret_from_mcp_secret",
            "session_id_is_not_a_credential",
            "client_sends_the_bearer_header",
            "client_prints_the_tool_result",
            "client_reports_a_refused_secret",
        ],
    )
    .await;
}
