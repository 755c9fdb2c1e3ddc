//! Where snapshots come from.
