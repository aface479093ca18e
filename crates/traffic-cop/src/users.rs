//! User names through the passwd database (NSS, so LDAP and sssd users
//! resolve as `id` resolves them), looked up once per uid.

use std::collections::HashMap;

use nix::unistd::{Uid, User};

#[derive(Debug, Default)]
pub struct UserNames {
    cache: HashMap<u32, String>,
}

impl UserNames {
    /// The name of `uid`, or the number itself when it has no passwd entry
    /// (as `ls -l` shows such owners).
    pub fn name(&mut self, uid: u32) -> &str {
        self.cache
            .entry(uid)
            .or_insert_with(|| match User::from_uid(Uid::from_raw(uid)) {
                Ok(Some(user)) => user.name,
                _ => uid.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_passwd_database() {
        let mut names = UserNames::default();
        assert_eq!(names.name(0), "root");
        let me = nix::unistd::geteuid().as_raw();
        let id = std::process::Command::new("id")
            .arg("-nu")
            .output()
            .expect("id(1) runs");
        assert_eq!(names.name(me), String::from_utf8_lossy(&id.stdout).trim());
        assert_eq!(names.name(4_000_000_000), "4000000000");
    }
}
