//! Loading and atomically saving the configuration file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::defaults::DEFAULT_CONFIG_TOML;
use super::error::ConfigError;
use super::schema::Config;

pub const CONFIG_FILE_NAME: &str = "pbxgate.toml";

pub struct ConfigStore {
    path: PathBuf,
}

/// What `load_or_init` found.
pub struct Loaded {
    pub config: Config,
    /// True when the file did not exist and the defaults were written.
    pub created: bool,
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

    fn write_atomically(&self, bytes: &[u8]) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("toml.tmp");
        {
            let mut f = fs::File::create(&tmp).map_err(io)?;
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

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pbxgate-cfg-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn first_start_writes_default_then_reads_it() {
        let d = temp_dir("init");
        let store = ConfigStore::in_data_dir(&d);
        let first = store.load_or_init().unwrap();
        assert!(first.created);
        assert!(store.path().exists());
        let second = store.load_or_init().unwrap();
        assert!(!second.created);
        assert_eq!(first.config, second.config);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_file_is_refused_with_path_and_field() {
        let d = temp_dir("bad");
        fs::create_dir_all(&d).unwrap();
        let store = ConfigStore::in_data_dir(&d);
        fs::write(store.path(), "[sip]\nt2_ms = 1\n").unwrap();
        let e = store.load_or_init().err().unwrap().to_string();
        assert!(e.contains("sip.t2_ms"), "{e}");
        fs::write(store.path(), "[sip\n").unwrap();
        let e = store.load_or_init().err().unwrap().to_string();
        assert!(e.contains("pbxgate.toml"), "{e}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn save_round_trips_and_leaves_no_temp_file() {
        let d = temp_dir("save");
        fs::create_dir_all(&d).unwrap();
        let store = ConfigStore::in_data_dir(&d);
        let mut c = Config::default();
        c.sip.t1_ms = 250;
        store.save(&c).unwrap();
        assert_eq!(store.load_or_init().unwrap().config, c);
        assert!(!store.path().with_extension("toml.tmp").exists());
        c.sip.t1_ms = 1;
        assert!(store.save(&c).is_err());
        let _ = fs::remove_dir_all(&d);
    }
}
