//! The ScaledJob controller and its scale loop (keda-compat §3): Jobs created from the template in
//! proportion to the event backlog, history limits, rollout cleanup, pause.

pub(crate) mod controller;
pub mod jobs;
mod poll;
mod status;
