//! POSIX ACLs as the kernel stores them in `system.posix_acl_*` extended
//! attributes, decoded to getfacl's short text for records.

/// `user::rw-,user:1000:r--,group::r--,mask::r--,other::---`, or `None`
/// when the bytes are not a version-2 ACL (then the caller shows hex).
pub fn text(raw: &[u8]) -> Option<String> {
    let (version, body) = raw.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*version) != 2 || body.len() % 8 != 0 {
        return None;
    }
    let entries = body.chunks_exact(8).map(|e| {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let perms: String = [(4, 'r'), (2, 'w'), (1, 'x')]
            .iter()
            .map(|(bit, c)| if perm & bit != 0 { *c } else { '-' })
            .collect();
        let who = match tag {
            0x01 => "user:".to_string(),
            0x02 => format!("user:{id}"),
            0x04 => "group:".to_string(),
            0x08 => format!("group:{id}"),
            0x10 => "mask:".to_string(),
            0x20 => "other:".to_string(),
            _ => return None,
        };
        Some(format!("{who}:{perms}"))
    });
    entries.collect::<Option<Vec<_>>>().map(|v| v.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_kernel_layout() {
        let mut raw = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (1u16, 6u16, u32::MAX),
            (2, 4, 1000),
            (4, 4, u32::MAX),
            (0x10, 4, u32::MAX),
            (0x20, 0, u32::MAX),
        ] {
            raw.extend(tag.to_le_bytes());
            raw.extend(perm.to_le_bytes());
            raw.extend(id.to_le_bytes());
        }
        assert_eq!(
            text(&raw).unwrap(),
            "user::rw-,user:1000:r--,group::r--,mask::r--,other::---"
        );
        assert_eq!(text(&raw[..7]), None);
    }
}
