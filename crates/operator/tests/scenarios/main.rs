//! Scenario tests of the operator against ebb-testkube with real scaler inputs (a metrics HTTP
//! server on 127.0.0.1 whose value each test sets).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may panic too

mod common;
mod hpa_shape;
mod lifecycle;
mod scaled_job;
mod scaling;
