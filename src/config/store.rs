//! Loading and atomically saving the configuration file.
//!
//! The file holds passwords (SIP accounts, inbound digest users), so it is
//! created readable by its owner only (mode 0600), and a file others can
//! read is reported at start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::defaults::DEFAULT_CONFIG_TOML;
use super::edit::edit_toml;
use super::error::ConfigError;
use super::schema::Config;

pub const CONFIG_FILE_NAME: &str = "pbxgate.toml";

#[derive(Clone, Debug)]
pub struct ConfigStore {
    path: PathBuf,
}

/// The mode the file is created and saved with: owner read and write.
pub const CONFIG_FILE_MODE: u32 = 0o600;

/// What `load_or_init` found.
pub struct Loaded {
    pub config: Config,
    /// True when the file did not exist and the defaults were written.
    pub created: bool,
}

/// What `check` found; it writes nothing.
pub struct Checked {
    pub config: Config,
    /// False when there is no file: the built-in defaults were checked.
    pub exists: bool,
}

/// The configuration file can be read (or written) by other users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path} has mode {mode:04o}: other users can read the passwords in it; run `chmod 600 {path}`"
)]
pub struct WideMode {
    pub path: String,
    pub mode: u32,
}

impl ConfigStore {
    pub fn in_data_dir(data_dir: &Path) -> Self {
        ConfigStore {
            path: data_dir.join(CONFIG_FILE_NAME),
        }
    }

    pub fn at(path: PathBuf) -> Self {
        ConfigStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Validates the file, or the built-in defaults when there is none,
    /// without writing anything (`--check-config`).
    pub fn check(&self) -> Result<Checked, ConfigError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Checked {
                config: self.parse(&text)?,
                exists: true,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checked {
                config: self.parse(DEFAULT_CONFIG_TOML)?,
                exists: false,
            }),
            Err(source) => Err(ConfigError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// `Some` when group or other users have any permission on the file.
    pub fn wide_mode(&self) -> Option<WideMode> {
        let mode = fs::metadata(&self.path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| WideMode {
            path: self.path.display().to_string(),
            mode,
        })
    }

    /// Reads the file; when it does not exist, writes the built-in default
    /// (with its comments) and returns it.
    pub fn load_or_init(&self) -> Result<Loaded, ConfigError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Ok(Loaded {
                config: self.parse(&text)?,
                created: false,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent() {
                    fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                self.write_atomically(DEFAULT_CONFIG_TOML.as_bytes())?;
                Ok(Loaded {
                    config: self.parse(DEFAULT_CONFIG_TOML)?,
                    created: true,
                })
            }
            Err(source) => Err(ConfigError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn parse(&self, text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Validates and saves: temp file, fsync, rename, fsync the directory,
    /// so a power cut leaves either the old or the new file, never half.
    pub fn save(&self, cfg: &Config) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.write_atomically(cfg.to_toml().as_bytes())
    }

    /// Validates `new` and saves it by editing the file as it is: only the
    /// values that differ change, the comments and layout of the rest stay
    /// (see `edit::edit_toml`). The file must then read as `new`, else
    /// nothing is written. `old` is the configuration the file was loaded
    /// as; the file's own values are compared with `new` when it still
    /// reads as a configuration, so a change made by hand since then is
    /// replaced too and the file always holds what the gateway runs. A
    /// missing file starts from the built-in default file, with its
    /// comments. Saves are made one at a time (the signalling loop takes
    /// them in turn): the temp file's name is fixed.
    pub fn save_edited(&self, old: &Config, new: &Config) -> Result<(), ConfigError> {
        new.validate()?;
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_CONFIG_TOML.to_owned(),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let on_disk = toml::from_str::<Config>(&text);
        let base = on_disk.as_ref().unwrap_or(old);
        let edited = edit_toml(&text, base, new).map_err(|e| ConfigError::Syntax {
            path: self.path.clone(),
            message: match &on_disk {
                Ok(_) => e.to_string(),
                Err(load) => format!(
                    "the file no longer loads (line {}: {}); correct or remove it, then save again",
                    load.span().map_or(0, |s| text
                        .bytes()
                        .take(s.start)
                        .filter(|b| *b == b'\n')
                        .count()
                        + 1),
                    load.message().trim().replace('\n', "; ")
                ),
            },
        })?;
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        self.write_atomically(edited.as_bytes())
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("toml.tmp");
        // A temp file left by a crash may have another mode; the mode is
        // set only when the file is created, never widened by a chmod
        // window.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(CONFIG_FILE_MODE)
                .open(&tmp)
                .map_err(io)?;
            f.write_all(bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory of its own for one test, not created yet, and
    /// removed when the test ends.
    struct DataDir(PathBuf);

    impl DataDir {
        fn new(tag: &str) -> DataDir {
            let d = std::env::temp_dir().join(format!("pbxgate-cfg-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            DataDir(d)
        }

        fn store(&self) -> ConfigStore {
            ConfigStore::in_data_dir(&self.0)
        }
    }

    impl Drop for DataDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn first_start_writes_default_then_reads_it() {
        let d = DataDir::new("init");
        let store = d.store();
        let first = store.load_or_init().unwrap();
        assert!(first.created);
        assert!(store.path().exists());
        let second = store.load_or_init().unwrap();
        assert!(!second.created);
        assert_eq!(first.config, second.config);
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_file_is_created_and_saved_owner_only() {
        let d = DataDir::new("mode");
        let store = d.store();
        assert!(store.load_or_init().unwrap().created);
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(store.wide_mode(), None);
        // A save replaces a file someone made readable, and a stale temp
        // file with a wide mode, with an owner-only one.
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let tmp = store.path().with_extension("toml.tmp");
        fs::write(&tmp, "stale").unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o666)).unwrap();
        store.save(&Config::default()).unwrap();
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn a_wide_mode_is_reported_with_the_fix() {
        let d = DataDir::new("wide");
        let store = d.store();
        store.load_or_init().unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
        let w = store.wide_mode().expect("0640 is too wide");
        assert_eq!(w.mode, 0o640);
        let text = w.to_string();
        assert!(text.contains("pbxgate.toml has mode 0640"), "{text}");
        assert!(text.contains("chmod 600"), "{text}");
    }

    #[test]
    fn check_writes_nothing() {
        let d = DataDir::new("check");
        let store = d.store();
        let checked = store.check().unwrap();
        assert!(!checked.exists);
        assert_eq!(checked.config, Config::default());
        assert!(!d.0.exists(), "check created the data directory");
    }

    #[test]
    fn bad_file_is_refused_with_path_and_field() {
        let d = DataDir::new("bad");
        fs::create_dir_all(&d.0).unwrap();
        let store = d.store();
        fs::write(store.path(), "[sip]\nt2_ms = 1\n").unwrap();
        let e = store.load_or_init().err().unwrap().to_string();
        assert!(e.contains("sip.t2_ms"), "{e}");
        fs::write(store.path(), "[sip\n").unwrap();
        let e = store.load_or_init().err().unwrap().to_string();
        assert!(e.contains("pbxgate.toml"), "{e}");
    }

    #[test]
    fn save_round_trips_and_leaves_no_temp_file() {
        let d = DataDir::new("save");
        fs::create_dir_all(&d.0).unwrap();
        let store = d.store();
        let mut c = Config::default();
        c.sip.t1_ms = 250;
        store.save(&c).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, c);
        assert!(!store.path().with_extension("toml.tmp").exists());
        c.sip.t1_ms = 1;
        assert!(store.save(&c).is_err());
    }

    /// The comment lines of the default file.
    fn default_comments() -> Vec<&'static str> {
        DEFAULT_CONFIG_TOML
            .lines()
            .filter_map(|l| l.find('#').map(|at| &l[at..]))
            .collect()
    }

    #[test]
    fn save_edited_changes_the_values_and_keeps_the_comments() {
        let d = DataDir::new("edited");
        let store = d.store();
        let old = store.load_or_init().unwrap().config;
        let mut new = old.clone();
        new.media.threads = 2;
        new.listeners[0].allow = Some(vec!["203.0.113.0/24".into()]);
        store.save_edited(&old, &new).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, new);
        let text = fs::read_to_string(store.path()).unwrap();
        for comment in default_comments() {
            assert!(text.contains(comment), "lost: {comment}");
        }
        assert_eq!(mode(store.path()), 0o600);
        assert!(!store.path().with_extension("toml.tmp").exists());
    }

    #[test]
    fn a_save_that_fails_validation_changes_nothing() {
        let d = DataDir::new("refused");
        let store = d.store();
        let old = store.load_or_init().unwrap().config;
        let before = fs::read(store.path()).unwrap();
        let mut bad = old.clone();
        bad.media.threads = 2;
        bad.sip.t1_ms = 1;
        let e = store.save_edited(&old, &bad).unwrap_err().to_string();
        assert!(e.contains("sip.t1_ms"), "{e}");
        assert_eq!(fs::read(store.path()).unwrap(), before);
        assert!(!store.path().with_extension("toml.tmp").exists());
    }

    #[test]
    fn save_edited_without_a_file_starts_from_the_commented_default() {
        let d = DataDir::new("nofile");
        let store = d.store();
        let mut new = Config::default();
        new.log.level = "debug".into();
        store.save_edited(&Config::default(), &new).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, new);
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("level = \"debug\""), "{text}");
        assert!(text.contains("# Emergency numbers"), "{text}");
        assert_eq!(mode(store.path()), 0o600);
    }

    #[test]
    fn a_change_made_by_hand_since_loading_is_replaced_so_the_file_holds_new() {
        let d = DataDir::new("hand");
        let store = d.store();
        let old = store.load_or_init().unwrap().config;
        let text = fs::read_to_string(store.path()).unwrap();
        fs::write(store.path(), text.replace("t2_ms = 4000", "t2_ms = 6000")).unwrap();
        let mut new = old.clone();
        new.calls.max_concurrent = 20;
        store.save_edited(&old, &new).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, new);
    }

    #[test]
    fn a_file_broken_by_hand_is_kept_and_named() {
        let d = DataDir::new("broken");
        let store = d.store();
        let old = store.load_or_init().unwrap().config;
        let text = fs::read_to_string(store.path()).unwrap();
        for broken in [
            text.replace("[media]", "[media"),
            text.replace("t2_ms = 4000", "t2_ms = \"x\""),
        ] {
            fs::write(store.path(), &broken).unwrap();
            let mut new = old.clone();
            new.calls.max_concurrent = 20;
            let e = store.save_edited(&old, &new).unwrap_err().to_string();
            assert!(e.contains("pbxgate.toml"), "{e}");
            assert!(e.contains("correct or remove it"), "{e}");
            assert!(e.contains("line ") && !e.contains('\n'), "{e}");
            assert_eq!(fs::read_to_string(store.path()).unwrap(), broken);
        }
        // A save that sets the broken value again mends it.
        let mut new = old.clone();
        new.sip.t2_ms = 4500;
        store.save_edited(&old, &new).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, new);
    }
}
