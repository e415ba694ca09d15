//! `[network]` written where the appliance applies it: a static address
//! as `<data_dir>/network/10-pbxgate.network` (systemd-networkd syntax,
//! `app::network::render`), DHCP as no file. Written at start and at each
//! save whose plan differs, atomically (temp file, fsync, rename, fsync
//! the folder) and only when the content changes, so a restart does not
//! make the appliance reconfigure its interface. On the image,
//! `pbxgate-network.path` sees the change and `pbxgate-network.service`
//! (root) copies the file to `/run/systemd/network/` and has networkd
//! apply it; elsewhere nothing applies it (docs/network.md).

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::app::network::{NetworkPlan, NETWORK_DIR, NETWORK_FILE};
use crate::config::ConfigError;

/// The image's marker (image/build.sh writes it): the box applies the file.
const APPLIANCE_MARKER: &str = "/etc/pbxgate-image";

/// The networkd file in a data directory.
#[derive(Clone, Debug)]
pub struct NetworkFile {
    path: PathBuf,
    /// Whether something applies the file here (the appliance image).
    applied: bool,
}

impl NetworkFile {
    pub fn in_data_dir(data_dir: &Path) -> NetworkFile {
        NetworkFile {
            path: data_dir.join(NETWORK_DIR).join(NETWORK_FILE),
            applied: Path::new(APPLIANCE_MARKER).exists(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the file say `plan`: written when its content differs,
    /// removed for DHCP. True when the file changed.
    pub fn apply(&self, plan: &NetworkPlan) -> Result<bool, ConfigError> {
        let io = |source| ConfigError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        match plan.file() {
            None => match fs::remove_file(&self.path) {
                Ok(()) => {
                    sync_dir(dir);
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io(e)),
            },
            Some(text) => {
                if fs::read(&self.path).is_ok_and(|old| old == text.as_bytes()) {
                    return Ok(false);
                }
                // Readable by the appliance's root service that copies it;
                // it holds no secret.
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(dir)
                    .map_err(io)?;
                // Not "*.network": the copying service never takes a
                // half-written file.
                let tmp = dir.join(format!(".{NETWORK_FILE}.tmp"));
                match fs::remove_file(&tmp) {
                    Err(e) if e.kind() != ErrorKind::NotFound => return Err(io(e)),
                    _ => {}
                }
                {
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o644)
                        .open(&tmp)
                        .map_err(io)?;
                    f.write_all(text.as_bytes()).map_err(io)?;
                    f.sync_all().map_err(io)?;
                }
                fs::rename(&tmp, &self.path).map_err(io)?;
                sync_dir(dir);
                Ok(true)
            }
        }
    }

    /// What the log says after `apply`: what, where, and who applies it.
    pub fn describe(&self, plan: &NetworkPlan, changed: bool) -> String {
        let what = match (plan, changed) {
            (NetworkPlan::Dhcp, true) => {
                format!("{} (removed {})", plan.summary(), self.path.display())
            }
            (NetworkPlan::Dhcp, false) => plan.summary(),
            (NetworkPlan::Static(_), true) => {
                format!("{}, written to {}", plan.summary(), self.path.display())
            }
            (NetworkPlan::Static(_), false) => {
                format!("{}, in {}", plan.summary(), self.path.display())
            }
        };
        let who = if self.applied {
            if matches!(plan, NetworkPlan::Dhcp) && !changed {
                // Nothing of pbxgate's: the image's own DHCP file.
                return what;
            }
            "pbxgate-network.service applies it"
        } else {
            "not the appliance image: nothing here applies it (the image's pbxgate-network.service does)"
        };
        format!("{what}; {who}")
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::network::NetworkPlan;
    use crate::config::Config;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn plan(toml: &str) -> NetworkPlan {
        let c = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
        NetworkPlan::resolve(&c.network, Some("eth0")).unwrap()
    }

    #[test]
    fn static_writes_the_file_once_and_dhcp_removes_it() {
        let d = Dir(std::env::temp_dir().join(format!("pbxgate-netfile-{}", std::process::id())));
        let _ = fs::remove_dir_all(&d.0);
        fs::create_dir_all(&d.0).unwrap();
        let f = NetworkFile::in_data_dir(&d.0);
        assert_eq!(f.path(), d.0.join("network/10-pbxgate.network"));
        // DHCP with no file: nothing to do.
        assert!(!f.apply(&NetworkPlan::Dhcp).unwrap());
        assert!(!d.0.join("network").exists(), "no folder made for DHCP");

        let p = plan(
            "[network]\nmode = 'static'\naddress = '192.168.1.50/24'\ngateway = '192.168.1.1'\n",
        );
        assert!(f.apply(&p).unwrap());
        let text = fs::read_to_string(f.path()).unwrap();
        assert!(text.contains("Name=eth0\n") && text.contains("Address=192.168.1.50/24\n"));
        assert_eq!(Some(text), p.file());
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        // The same again: not rewritten (a restart does not disturb the
        // interface).
        let before = fs::metadata(f.path()).unwrap().modified().unwrap();
        assert!(!f.apply(&p).unwrap());
        assert_eq!(fs::metadata(f.path()).unwrap().modified().unwrap(), before);
        // Another address replaces it; no temp file is left.
        let q = plan("[network]\nmode = 'static'\naddress = '192.168.1.51/24'\n");
        assert!(f.apply(&q).unwrap());
        assert!(fs::read_to_string(f.path())
            .unwrap()
            .contains("Address=192.168.1.51/24\n"));
        let names: Vec<String> = fs::read_dir(d.0.join("network"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10-pbxgate.network"]);
        assert!(f.describe(&q, true).starts_with(&format!(
            "static 192.168.1.51/24 on eth0, written to {}; ",
            f.path().display()
        )));

        // Back to DHCP: the file is gone, the image's DHCP file applies.
        assert!(f.apply(&NetworkPlan::Dhcp).unwrap());
        assert!(!f.path().exists());
        assert!(!f.apply(&NetworkPlan::Dhcp).unwrap());
    }

    #[test]
    fn a_folder_that_cannot_be_written_is_an_error_naming_the_file() {
        let d =
            Dir(std::env::temp_dir().join(format!("pbxgate-netfile-ro-{}", std::process::id())));
        let _ = fs::remove_dir_all(&d.0);
        // A file where the folder should be.
        fs::create_dir_all(&d.0).unwrap();
        fs::write(d.0.join("network"), "not a folder").unwrap();
        let f = NetworkFile::in_data_dir(&d.0);
        let e = f
            .apply(&plan(
                "[network]\nmode = 'static'\naddress = '10.0.0.5/24'\n",
            ))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&f.path().display().to_string()), "{e}");
    }
}
