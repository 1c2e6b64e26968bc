//! Users and groups from `/etc/passwd` and `/etc/group`.

use plinth_fs::{ContentRequest, MergedFs};
use serde::Serialize;

/// What the users cataloger reads.
pub fn request() -> ContentRequest {
    ContentRequest::new()
        .path("/etc/passwd")
        .path("/etc/group")
        .max_size(4 << 20)
}

/// A `/etc/passwd` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u64,
    /// Primary group id.
    pub gid: u64,
    /// GECOS (full name).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gecos: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
    /// Whether the shell allows a login (not `nologin` or `false`).
    pub login: bool,
}

/// A `/etc/group` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u64,
    /// Supplementary members.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// Users and groups of the image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Users {
    /// Whether `/etc/passwd` exists.
    pub passwd: bool,
    /// Users, in file order.
    pub users: Vec<User>,
    /// Groups, in file order.
    pub groups: Vec<Group>,
}

impl Users {
    /// The user a config's `User` names (`name`, `uid`, `name:group`, `uid:gid`).
    pub fn lookup(&self, spec: &str) -> Option<&User> {
        let user = spec.split(':').next().unwrap_or(spec);
        match user.parse::<u64>() {
            Ok(uid) => self.users.iter().find(|u| u.uid == uid),
            Err(_) => self.users.iter().find(|u| u.name == user),
        }
    }
}

/// Parses `/etc/passwd`.
pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            let shell = f[6].trim().to_string();
            // An empty shell means /bin/sh; these ones refuse or do something else.
            let login = !["/nologin", "/false", "/sync", "/shutdown", "/halt"]
                .iter()
                .any(|s| shell.ends_with(s));
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                home: f[5].to_string(),
                login,
                shell,
            })
        })
        .collect()
}

/// Parses `/etc/group`.
pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads users and groups.
pub fn catalog(fs: &MergedFs) -> Users {
    let passwd = fs.read("/etc/passwd");
    Users {
        passwd: passwd.is_some(),
        users: passwd
            .map(|b| parse_passwd(&String::from_utf8_lossy(b)))
            .unwrap_or_default(),
        groups: fs
            .read("/etc/group")
            .map(|b| parse_group(&String::from_utf8_lossy(b)))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group() {
        let u = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\nbad line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        );
        assert_eq!(u.len(), 4);
        assert!(u[0].login);
        assert!(!u[1].login);
        assert!(!u[2].login);
        let g = parse_group("root:x:0:\nsudo:x:27:alice,bob\n");
        assert_eq!(g[1].members, ["alice", "bob"]);
        let users = Users {
            passwd: true,
            users: u,
            groups: g,
        };
        assert_eq!(users.lookup("daemon").unwrap().uid, 1);
        assert_eq!(users.lookup("65534:65534").unwrap().name, "nobody");
        assert!(users.lookup("1000").is_none());
    }
}
