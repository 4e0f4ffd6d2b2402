//! Every lab of the catalogue, from `labs.toml` alone (no lab is named
//! here): its solution matches every snapshot and passes every check, and
//! its untouched starter fails exactly its `starter_fails`.
//!
//! The labs run one at a time, and a lab that fails does not stop the
//! others. `LABS=lab1,lab3` tests only those.

use std::{future::Future, sync::Arc};

use labs_meta::Lab;
use tokio::sync::Semaphore;

use crate::common;

/// Labs side by side. One: each lab already runs four checks at once,
/// each with its own servers, and the planted mistakes build and grade
/// beside them; two labs at a time on two cores once kept a server from
/// answering for over 10 s.
const LABS_AT_ONCE: usize = 1;

#[tokio::test]
async fn every_solution_matches_its_snapshots() {
    for_every_lab(|lab| common::assert_solution_matches_snapshots(lab.id)).await;
}

#[tokio::test]
async fn every_solution_passes_every_check() {
    for_every_lab(|lab| async move {
        let package = lab.package(true);
        let failed = common::failed_checks(&lab.id, &package).await;
        assert!(
            failed.is_empty(),
            "{package} fails checks:\n{}",
            common::explain(&failed.iter().collect::<Vec<_>>())
        );
    })
    .await;
}

#[tokio::test]
async fn every_starter_fails_its_list() {
    for_every_lab(|lab| async move { common::assert_starter_fails(&lab).await }).await;
}

/// The labs to test: every lab in `labs.toml`, or those named in `LABS`.
fn labs() -> Vec<Lab> {
    let only = std::env::var("LABS").unwrap_or_default();
    let only: Vec<&str> = only.split(',').filter(|id| !id.is_empty()).collect();
    common::catalog()
        .labs
        .into_iter()
        .filter(|lab| only.is_empty() || only.contains(&lab.id.as_str()))
        .collect()
}

/// Runs `test` for every lab, [`LABS_AT_ONCE`] at a time, and fails naming
/// every lab whose test failed (each one's panic is printed above).
async fn for_every_lab<F, T>(test: F)
where
    F: Fn(Lab) -> T,
    T: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(LABS_AT_ONCE));
    let running: Vec<_> = labs()
        .into_iter()
        .map(|lab| {
            let (id, test, slots) = (lab.id.clone(), test(lab), slots.clone());
            let task = tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                test.await;
            });
            (id, task)
        })
        .collect();
    let mut failed = Vec::new();
    for (id, task) in running {
        if task.await.is_err() {
            failed.push(id);
        }
    }
    assert!(failed.is_empty(), "failed for {}", failed.join(", "));
}
