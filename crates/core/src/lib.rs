//! Pure scaling decisions: activation, cooldown, idle, fallback, scaling modifiers, the HPA v2 algorithm and ScaledJob strategies.
