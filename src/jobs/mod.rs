//! The background work of `paperhub serve`, apart from serving requests:
//! the harvest schedule ([`harvest`]), the indexer thread and the searcher
//! it feeds ([`index`]), the mail thread that runs digests and drains the
//! outbox ([`mail`]), and the lease that elects one node for each scheduled
//! run ([`lease`]).
//!
//! Several `paperhub serve` nodes on one PostgreSQL run the same schedule;
//! every scheduled run (a harvest after an announcement, a period's
//! digest) goes through [`lease::run_elected`], so exactly one node does it
//! and another takes it over if that node dies. The web layer starts these
//! and reads from them; they never reach into the web layer.

use std::net::SocketAddr;
use std::sync::OnceLock;

use crate::config::WebConfig;

pub mod harvest;
pub mod index;
pub mod lease;
pub mod mail;

/// The hub's public base URL without a trailing slash: `web.public_url`,
/// else the address actually bound (which `serve --addr` may have changed),
/// for links in pages and mails.
#[derive(Debug)]
pub struct HubUrl {
    configured: String,
    public_url_set: bool,
    bound: OnceLock<SocketAddr>,
}

impl HubUrl {
    /// The URL `web` configures, until an address is bound.
    pub fn new(web: &WebConfig) -> HubUrl {
        HubUrl {
            configured: web.base_url(),
            public_url_set: !web.public_url.is_empty(),
            bound: OnceLock::new(),
        }
    }

    /// Records the address the server listens on.
    pub fn set_bound(&self, addr: SocketAddr) {
        let _ = self.bound.set(addr);
    }

    /// The base URL now.
    pub fn get(&self) -> String {
        match self.bound.get() {
            Some(addr) if !self.public_url_set => format!("http://{addr}"),
            _ => self.configured.clone(),
        }
    }
}
