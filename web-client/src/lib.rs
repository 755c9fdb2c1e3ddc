//! Browser client for marketfeed (see the crate README).
