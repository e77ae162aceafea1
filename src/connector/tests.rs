//! HTTP behaviour tests (filled in below).
