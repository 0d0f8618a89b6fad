//! `ebb simulate`: a ScaledObject or ScaledJob over virtual time, deterministic and pure, making
//! exactly the decisions the operator plus the Kubernetes HPA would make (`ebb-core` decides; this
//! crate only keeps the clock, the pods and the queue).
//!
//! Inputs are a trace of metric values ([`Trace`]) or a load model ([`LoadModel`]: arrivals, a
//! consumption rate per ready replica and a startup delay) whose queue reacts to the replicas the
//! rules choose. Output is a [`Simulation`]: one [`Sample`] per second, the [`ScaleEvent`]s, a
//! [`Summary`], CSV ([`Simulation::to_csv`]) and an SVG chart ([`chart::svg`]).

pub mod chart;
pub mod engine;
pub mod input;
pub mod scaled_job;
pub mod scaled_object;
pub mod series;

pub use engine::{Inputs, LoadModel, Settings, SimError};
pub use input::{Arrivals, CsvError, Trace};
pub use scaled_job::{ScaledJobModel, simulate_scaled_job};
pub use scaled_object::{ScaledObjectModel, simulate_scaled_object};
pub use series::{Actor, Sample, ScaleEvent, Simulation, Summary};
