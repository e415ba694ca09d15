//! The board files built into the binary: `board = "NAME"` in the
//! configuration or `pbxgate --board NAME` picks one without the box
//! needing the project's `board/` folder. Each is read with
//! `Board::parse`, so a built-in file is checked exactly as one on disk.

use std::path::Path;

use super::board::{Board, BoardError};

/// Name and text of every file in `board/` (a test keeps the list equal
/// to the folder).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("rpi4", include_str!("../../board/rpi4.toml")),
    ("rpi5", include_str!("../../board/rpi5.toml")),
    ("x86-gateway", include_str!("../../board/x86-gateway.toml")),
];

/// The names, for messages ("rpi4, rpi5, x86-gateway").
pub fn names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in board `name`: None when there is none of that name.
pub fn built_in(name: &str) -> Option<Result<Board, BoardError>> {
    let (stem, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    Some(Board::parse(Path::new(&format!("board/{stem}.toml")), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_built_in_and_reads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("board");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
            .collect();
        on_disk.sort();
        let built: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, built);
        for name in built {
            let b = built_in(name).unwrap().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(b, Board::load(&dir, name).unwrap());
        }
        assert!(built_in("pc-engines").is_none());
        assert_eq!(names(), "rpi4, rpi5, x86-gateway");
    }
}
