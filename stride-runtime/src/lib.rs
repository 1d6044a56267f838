//! CPU kernels and layers.
