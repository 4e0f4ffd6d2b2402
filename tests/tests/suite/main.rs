//! The kit's own proof, in one test binary (each binary is ~100 MB):
//! - every lab's solution passes every check, judged by the snapshots;
//! - every untouched starter compiles and fails exactly the checks it should;
//! - the catalogue, the checks and the lab folders agree;
//! - the runner (`cargo xtask`) reports pass, failure, compile error and a
//!   server that never starts as it should;
//! - a student's commands (progress, reset, diff, doctor, watch) work;
//! - the grader grades a fixture class as it should, tamper-proof;
//! - every planted mistake makes its lab's named check fail first;
//! - the servers work with the official Python MCP SDK (interop).

mod catalog;
mod common;
mod contract;
// The grader's tests read /proc and run bash scripts and `sh` fixtures:
// Linux only (the planted mistakes are graded through the grader too).
#[cfg(target_os = "linux")]
mod grading;
mod harness;
mod interop;
mod lab1;
mod lab2;
mod lab3;
mod lab4;
mod lab5;
mod lab6;
#[cfg(target_os = "linux")]
mod mistakes;
mod runner;
mod student;
