//! plinth-registry
