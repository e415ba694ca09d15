//! Who may use the web page and the API: users with passwords (Argon2id,
//! `web-users.toml`), browser sessions with a CSRF token each, failed
//! logins limited per source, and API tokens for scripts
//! (`web-tokens.toml`). The machines (sessions, limiter, tokens) are
//! sans-IO; `Auth` holds them with the two files behind one lock.

pub mod files;
pub mod limiter;
pub mod pages;
pub mod password;
pub mod secret;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;

use crate::config::WebConfig;

pub use sessions::Session;
pub use tokens::{Token, TokenError};
pub use users::UsersError;

/// Password checks running at once, at most.
static VERIFYING: smol::lock::Semaphore = smol::lock::Semaphore::new(2);

/// The browser's session cookie.
pub const COOKIE: &str = "pbxgate_session";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Users(#[from] UsersError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
}

/// What a login attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    /// A session started: its id (the cookie) and whether the password was
    /// a one-time one that must be replaced now.
    Started {
        session: String,
        must_change: bool,
    },
    Refused,
    /// Too many failures from this source: try again after this long.
    Limited(Duration),
}

#[derive(Clone)]
pub struct Auth {
    data_dir: PathBuf,
    state: Arc<Mutex<State>>,
}

struct State {
    users: users::Users,
    /// The users file's change time when read, to notice a
    /// `reset-password` on the console.
    users_mtime: Option<SystemTime>,
    sessions: sessions::Sessions,
    limiter: limiter::Limiter,
    tokens: tokens::Tokens,
}

/// `pbxgate reset-password`: a new one-time password for `admin`, written
/// to the data directory's users file; the running box reads it at the
/// next login.
pub fn reset_password(data_dir: &Path) -> Result<String, AuthError> {
    let path = users::path_in(data_dir);
    let current = users::read(&path)?;
    Ok(users::reset_admin(&path, current)?)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Auth {
    /// Reads the users and tokens files of `data_dir`. Without a users
    /// file (first start), `admin` gets a one-time password, returned to be
    /// shown in the banner.
    pub fn open(data_dir: &Path) -> Result<(Auth, Option<String>), AuthError> {
        let path = users::path_in(data_dir);
        let (found, one_time) = match users::read(&path)? {
            Some(u) => (u, None),
            None => {
                let pw = users::reset_admin(&path, None)?;
                (users::read(&path)?.unwrap_or_default(), Some(pw))
            }
        };
        let tokens = tokens::Tokens::read(&tokens::path_in(data_dir))?;
        let auth = Auth {
            data_dir: data_dir.to_path_buf(),
            state: Arc::new(Mutex::new(State {
                users: found,
                users_mtime: files::modified(&path),
                sessions: Default::default(),
                limiter: Default::default(),
                tokens,
            })),
        };
        Ok((auth, one_time))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads the users file if it changed since it was read (a reset
    /// on the console); the sessions of a user whose password changed end.
    fn reload_users(&self) {
        let path = users::path_in(&self.data_dir);
        let mtime = files::modified(&path);
        if mtime == self.lock().users_mtime {
            return;
        }
        match users::read(&path) {
            Ok(Some(new)) => {
                let mut s = self.lock();
                for u in &new.users {
                    let old = s.users.users.iter().find(|o| o.name == u.name);
                    if old.is_none_or(|o| o.hash != u.hash) {
                        s.sessions.end_user(&u.name, None);
                    }
                }
                s.users = new;
                s.users_mtime = mtime;
            }
            Ok(None) => {
                tracing::warn!(path = %path.display(), "the web users file is gone; logins use the users read before")
            }
            Err(e) => tracing::warn!("{e}; logins use the users read before"),
        }
    }

    /// Checks a user name and password from `source`; failures count
    /// towards `[web] login_failures` per `login_window_min`.
    pub async fn login(
        &self,
        user: &str,
        pass: &str,
        source: IpAddr,
        web: &WebConfig,
        now: Instant,
    ) -> Login {
        let window = Duration::from_secs(web.login_window_min * 60);
        if let Err(wait) = self
            .lock()
            .limiter
            .check(source, web.login_failures, window, now)
        {
            return Login::Limited(wait);
        }
        // Counted before the check, not after: requests racing in parallel
        // each see the ones before them, so no more than `login_failures`
        // guesses get through a window. A success clears the count.
        self.lock().limiter.failed(source, now);
        self.reload_users();
        let found = self
            .lock()
            .users
            .users
            .iter()
            .find(|u| u.name == user)
            .cloned();
        let ok = match &found {
            Some(u) => {
                let (pass, hash) = (pass.to_string(), u.hash.clone());
                // Argon2 takes tens of milliseconds and 19 MiB on
                // purpose: off the server's threads, two at a time, so a
                // burst of logins cannot take a small board's memory.
                let _turn = VERIFYING.acquire().await;
                smol::unblock(move || password::verify(&pass, &hash)).await
            }
            None => false,
        };
        let (Some(u), true) = (found, ok) else {
            tracing::info!(%source, user = %crate::logging::Escaped(user.as_bytes()), "web login refused");
            return Login::Refused;
        };
        let (id, csrf) = match (secret::token(), secret::token()) {
            (Ok(i), Ok(c)) => (i, c),
            _ => return Login::Refused,
        };
        let mut s = self.lock();
        s.limiter.succeeded(source);
        s.sessions
            .start(id.clone(), &u.name, csrf, u.must_change, now);
        tracing::info!(%source, user = %u.name, "web login");
        Login::Started {
            session: id,
            must_change: u.must_change,
        }
    }

    /// The session with cookie `id`, if it is alive (idle less than
    /// `[web] session_idle_min`); using it starts its idle time again.
    pub fn session(&self, id: &str, web: &WebConfig, now: Instant) -> Option<Session> {
        // A `pbxgate reset-password` on the console ends the sessions at
        // their next request, not only at someone's next login: one stat
        // of the users file, read again only when it changed.
        self.reload_users();
        let idle = Duration::from_secs(web.session_idle_min * 60);
        self.lock().sessions.touch(id, idle, now)
    }

    pub fn logout(&self, id: &str) {
        self.lock().sessions.end(id);
    }

    /// Sets the password of the session's user. Refuses the one in use
    /// (the one-time password must be replaced, not kept). Other sessions
    /// of the user end.
    pub async fn change_password(&self, id: &str, user: &str, new: &str) -> Result<(), String> {
        self.reload_users();
        let Some(current) = self
            .lock()
            .users
            .users
            .iter()
            .find(|u| u.name == user)
            .cloned()
        else {
            return Err("this user is no longer in the users file".into());
        };
        let (new_pw, old_hash) = (new.to_string(), current.hash.clone());
        let hashed = smol::unblock(move || {
            if password::verify(&new_pw, &old_hash) {
                return Err("choose a password other than the current one".to_string());
            }
            password::hash(&new_pw).map_err(|e| e.to_string())
        })
        .await?;
        let mut s = self.lock();
        let mut next = s.users.clone();
        if let Some(u) = next.users.iter_mut().find(|u| u.name == user) {
            u.hash = hashed;
            u.must_change = false;
        }
        let path = users::path_in(&self.data_dir);
        users::write(&path, &next).map_err(|e| e.to_string())?;
        s.users = next;
        s.users_mtime = files::modified(&path);
        s.sessions.password_changed(id);
        s.sessions.end_user(user, Some(id));
        tracing::info!(user = %user, "web password changed");
        Ok(())
    }

    /// The name of the API token `presented`, if it is one.
    pub fn bearer(&self, presented: &str) -> Option<String> {
        self.lock().tokens.check(presented, unix_now())
    }

    pub fn tokens(&self) -> Vec<Token> {
        self.lock().tokens.tokens.clone()
    }

    /// Makes a token (written to the tokens file); returns it, to be
    /// shown once.
    pub fn make_token(&self, name: &str) -> Result<String, TokenError> {
        let mut s = self.lock();
        let mut next = s.tokens.clone();
        let token = next.make(name, unix_now())?;
        next.write(&tokens::path_in(&self.data_dir))?;
        s.tokens = next;
        Ok(token)
    }

    pub fn delete_token(&self, name: &str) -> Result<(), TokenError> {
        let mut s = self.lock();
        let mut next = s.tokens.clone();
        next.delete(name)?;
        next.write(&tokens::path_in(&self.data_dir))?;
        s.tokens = next;
        Ok(())
    }
}

/// Whether a presented CSRF token is the session's (constant time).
pub fn csrf_matches(presented: &str, session: &Session) -> bool {
    !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(session.csrf.as_bytes()))
}

/// The `Set-Cookie` value for a new session. Secure and HttpOnly keep it
/// off plain HTTP and away from scripts; SameSite=Strict keeps other sites'
/// pages from sending it (RFC 6265bis §5.4.7).
pub fn session_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Secure; HttpOnly; SameSite=Strict; Path=/")
}

pub fn cleared_cookie() -> String {
    format!("{COOKIE}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// The session id from a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(n, _)| *n == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
