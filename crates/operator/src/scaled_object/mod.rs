//! ScaledObjects: the controller, the HPA it owns, status, pausing, deletion, and one check of
//! the scale loop.

pub mod controller;
pub(crate) mod finalize;
pub mod hpa;
pub(crate) mod pause;
pub(crate) mod poll;
pub(crate) mod status;
