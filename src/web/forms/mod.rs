//! Editing the configuration from the web page and the API: each
//! section's form built from its value and read back (`spec` says how
//! every field is edited), passwords hidden and kept, and the save sent
//! to the signalling loop with its audit entries. See docs/web.md.

pub mod file;
pub mod parse;
pub mod path;
pub mod render;
pub mod save;
pub mod secrets;
pub mod spec;

pub use save::{save, with_section, Refused};
pub use spec::{section, Section, SECTIONS};

#[cfg(test)]
pub mod testing;
