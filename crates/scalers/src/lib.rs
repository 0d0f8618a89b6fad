//! Scalers: the `Scaler` trait, trigger parameters, the registry and one module per trigger type.
