//! Who may connect: tokens, `Origin`, connection slots.

pub mod auth;
pub mod limits;
pub mod origin;
