//! Close codes come from the protocol crate, which owns every wire word;
//! this module only names them where the frame layer looks for them.

pub use marketfeed_protocol::CloseCode;
