//! End to end: the real `mapsync serve` binary and the sandbox delivering real webhooks.
