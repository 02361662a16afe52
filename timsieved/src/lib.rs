//! timsieved as a library (the binary serves it; tests and fuzz targets reach its
//! parser). Modules: [`wire`] (reading commands, writing strings), [`session`] (the
//! session and its authentication), [`scripts`] (the script commands). See
//! timsieved(8).

pub mod scripts;
pub mod session;
pub mod wire;
