//! The application layer: the use cases the web, the API and the CLI share,
//! over the backend-neutral store.
//!
//! Layers, top to bottom: `web` and `cli` call `app` and the background
//! jobs; `app` calls the store traits of `paperhub_store`; the store crates
//! call `paperhub_domain`. Nothing below calls up. [`store`] is the only
//! module that names a storage backend.

pub mod copy;
pub mod demo;
pub mod discussions;
pub mod for_you;
pub mod library;
pub mod library_import;
pub mod store;
pub mod subscriptions;
