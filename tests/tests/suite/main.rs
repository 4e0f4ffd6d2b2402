//! The kit's own proof, in one test binary (each binary is ~100 MB):
//! - every lab's solution passes every check, judged by the snapshots, and
//!   every untouched starter fails exactly its `starter_fails` (one table
//!   over the catalogue: `labs`);
//! - the catalogue, the checks and the lab folders agree;
//! - the runner (`cargo xtask`) reports pass, failure, compile error and a
//!   server that never starts as it should;
//! - a student's commands (progress, reset, diff, doctor, watch) work;
//! - the grader grades a fixture class as it should, tamper-proof;
//! - every planted mistake makes its lab's named check fail first;
//! - the servers work with the official Python MCP SDK, 1.x and 2.x (interop), and lab 6's
//!   server and lab 7's client with the official MCP conformance suite and
//!   the MCP Inspector (conformance).

mod catalog;
mod common;
mod conformance;
mod contract;
// The grader's tests read /proc and run bash scripts and `sh` fixtures:
// Linux only (the planted mistakes are graded through the grader too).
#[cfg(target_os = "linux")]
mod grading;
mod harness;
mod interop;
mod labs;
#[cfg(target_os = "linux")]
mod mistakes;
mod runner;
mod student;
