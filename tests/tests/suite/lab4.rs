use crate::common;

#[tokio::test]
async fn solution_matches_every_snapshot() {
    common::assert_solution_matches_snapshots("lab4").await;
}

#[tokio::test]
async fn solution_passes_every_check() {
    assert_eq!(
        common::failed_checks("lab4", "lab4-solution").await,
        Vec::<String>::new()
    );
}

/// The starter lets every valid token do everything and its tokens carry no
/// permissions: the checks that need a refusal fail, the ones where the
/// caller is allowed anyway pass.
#[tokio::test]
async fn starter_fails_the_checks_it_should() {
    common::assert_starter_fails(
        "lab4",
        &[
            "login_puts_permissions_in_the_access_token",
            "resource_refuses_a_token_without_user_read_with_403",
            "delete_without_orders_delete_is_refused_before_the_tool_runs",
            "a_refusal_is_a_tool_error_naming_the_permission",
            "permissions_decide_not_who_the_user_is",
            "unmapped_tools_are_denied_by_default",
            "permission_names_are_case_sensitive",
            "permissions_match_only_as_whole_names",
            "tools_list_shows_only_the_callers_tools",
            "ignores_permissions_the_client_claims_itself",
            "client_shows_allowed_and_denied_calls",
        ],
    )
    .await;
}
