//! Docker's rules for `USER` and `--chown`: names come from the root file system's own
//! `/etc/passwd` and `/etc/group`, never the host's.

use std::io::Read;
use std::path::Path;

use crate::error::SandboxError;
use crate::rootpath;
use crate::spec::User;

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

/// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) against the
/// `/etc/passwd` and `/etc/group` of `rootfs`.
///
/// As in Docker: a numeric user missing from passwd gets gid 0; an unknown name is an
/// error; supplementary groups are the groups listing the user as a member, and only
/// when no group was given explicitly. An empty string is root.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<User, SandboxError> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let group_part = group_part.filter(|g| !g.is_empty());

    let passwd = read_db(rootfs, PASSWD)?;
    let entry = passwd
        .as_deref()
        .and_then(|text| find_passwd(text, user_part));
    let (name, uid, mut gid) = match entry {
        Some(e) => (Some(e.name), e.uid, e.gid),
        None => match user_part.parse::<u32>() {
            Ok(uid) => (None, uid, 0),
            Err(_) => {
                return Err(SandboxError::UnknownUser {
                    user: user_part.to_string(),
                    file: PASSWD,
                });
            }
        },
    };

    let groups = read_db(rootfs, GROUP)?;
    let mut additional_gids = Vec::new();
    match group_part {
        Some(group) => {
            gid = match groups.as_deref().and_then(|text| find_group(text, group)) {
                Some(g) => g.gid,
                None => group
                    .parse::<u32>()
                    .map_err(|_| SandboxError::UnknownGroup {
                        group: group.to_string(),
                        file: GROUP,
                    })?,
            };
        }
        None => {
            if let (Some(name), Some(text)) = (name.as_deref(), groups.as_deref()) {
                for g in parse_groups(text) {
                    if g.members.contains(&name) && !additional_gids.contains(&g.gid) {
                        additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

/// The file's text, or `None` if the image has no such file.
fn read_db(rootfs: &Path, file: &'static str) -> Result<Option<String>, SandboxError> {
    let error = |source| SandboxError::UserDb {
        file,
        rootfs: rootfs.to_path_buf(),
        source,
    };
    let Some(mut f) = rootpath::open_in_root(rootfs, file).map_err(error)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(error)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

/// The first entry whose name is `user`, or whose uid is `user` when numeric.
fn find_passwd(text: &str, user: &str) -> Option<PasswdEntry> {
    let numeric = user.parse::<u32>().ok();
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 {
            return None;
        }
        let uid = fields[2].trim().parse::<u32>().ok()?;
        let gid = fields[3].trim().parse::<u32>().ok()?;
        (fields[0] == user || numeric == Some(uid)).then(|| PasswdEntry {
            name: fields[0].to_string(),
            uid,
            gid,
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_groups(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 3 {
            return None;
        }
        let gid = fields[2].trim().parse::<u32>().ok()?;
        let members = fields
            .get(3)
            .map(|m| {
                m.split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Some(GroupEntry {
            name: fields[0],
            gid,
            members,
        })
    })
}

/// The first group named `group`, or whose gid is `group` when numeric.
fn find_group<'a>(text: &'a str, group: &str) -> Option<GroupEntry<'a>> {
    let numeric = group.parse::<u32>().ok();
    parse_groups(text).find(|g| g.name == group || numeric == Some(g.gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_matches_name_or_uid_first_entry_wins() {
        let text = "root:x:0:0::/root:/bin/sh\n# junk\nbad\napp:x:1000:1001::/:/bin/sh\napp2:x:1000:5::/:\n";
        let e = find_passwd(text, "app").unwrap();
        assert_eq!((e.name.as_str(), e.uid, e.gid), ("app", 1000, 1001));
        let e = find_passwd(text, "1000").unwrap();
        assert_eq!(e.name, "app");
        assert!(find_passwd(text, "nobody").is_none());
    }

    #[test]
    fn group_members_are_trimmed() {
        let text = "wheel:x:10:root, app\nempty:x:11:\nshort:x:12\n";
        let groups: Vec<_> = parse_groups(text).collect();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].members, vec!["root", "app"]);
        assert!(groups[1].members.is_empty());
        assert_eq!(find_group(text, "12").unwrap().name, "short");
    }
}
