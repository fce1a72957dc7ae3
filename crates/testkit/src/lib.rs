//! Test support for cchub: a mock Anthropic Messages API server, so tests, benchmarks and
//! demos run without reaching the real API.

pub mod mock_model;
