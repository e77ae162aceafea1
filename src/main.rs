//! The `mapsync` binary: parses arguments and hands over to the library.

fn main() {
    mapsync::init_crypto();
}
