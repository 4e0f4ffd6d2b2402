use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab6").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab6", "lab6-solution").await,
        Vec::<String>::new()
    );
}

/// The starter is lab 5's server with every gap of lab 6 still open: no
/// metadata, tokens without audience, issuer or type, sessions anyone with
/// a token can use, and lab 4's tool error instead of a step-up challenge.
/// Only the exploits that fail anyway (a forged or malformed token) and the
/// shared checks pass.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    assert_eq!(
        common::failed_checks("lab6", "lab6").await,
        [
            "serves_protected_resource_metadata",
            "every_401_points_to_the_metadata",
            "access_tokens_name_issuer_audience_and_type",
            "refuses_tokens_for_another_audience_issuer_or_type",
            "sessions_belong_to_the_user_who_opened_them",
            "a_forbidden_tool_call_is_a_403_step_up_challenge",
            "tools_nobody_may_call_are_refused_with_403",
            "refuses_foreign_origins_and_hosts",
            "refuses_oversized_requests_before_any_crypto",
            "logout_revokes_the_access_token_presented_with_it",
            "rate_limits_token_endpoints_per_client_and_username",
            "caps_live_sessions_per_user",
            "calls_upstream_with_its_own_credential",
            "logs_one_audit_line_per_decision",
            "survives_malformed_authorization_headers",
        ]
    );
}
