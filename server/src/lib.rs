//! placeholder while the modules land
#![allow(missing_docs)]
pub mod feed;
pub mod ws;
