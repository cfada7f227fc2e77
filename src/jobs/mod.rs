//! Background work that must run once per hub, not once per node: the
//! lease that elects a node for each run ([`lease`]).
//!
//! Several `paperhub serve` nodes on one PostgreSQL run the same schedule;
//! every scheduled run (a harvest after an announcement, a period's
//! digest) goes through [`lease::run_elected`], so exactly one node does it
//! and another takes it over if that node dies.

pub mod lease;
