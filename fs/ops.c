/*
 * ops.c - the FUSE low-level operations.
 *
 * Each handler is named after the operation it implements and replies
 * exactly once. Helpers return 0 or -errno; only the handler turns that
 * into fuse_reply_err(). Metadata work runs under fs->lock; data moves
 * outside it, under the inode's iolock (and for writes fs->commit_lock),
 * as doc/DESIGN.md section 3 describes.
 *
 * Permission checks are the kernel's (the mount always has
 * default_permissions); the daemon sets ownership, applies the umask and
 * default ACLs on create, and keeps times as POSIX says.
 */
#include "config.h"

#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <endian.h>
#include <fuse_lowlevel.h>
#include <linux/capability.h>

#include "fs/cowfs_ioctl.h"
#include "fs/fs.h"
#include "fs/loop.h"
#include "fs/ops.h"
#include "fs/util.h"

#define ACL_XATTR_ACCESS "system.posix_acl_access"
#define ACL_XATTR_DEFAULT "system.posix_acl_default"

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void touch(struct fs *fs, struct inode *in, bool m, bool c)
{
	int64_t now = now_ns();

	if (m)
		in->attr.mtime_ns = now;
	if (c)
		in->attr.ctime_ns = now;
	inode_mark_dirty(fs, in);
}

/* Gets an inode for an operation; regular files get their map loaded. */
static struct inode *get(struct fs *fs, uint64_t ino, int *err)
{
	struct inode *in = inode_get(fs, ino, err);

	if (in && S_ISREG(in->attr.mode) && !in->map_loaded) {
		*err = map_load(fs, in);
		if (*err)
			return NULL;
	}
	return in;
}

static void fill_entry(struct fs *fs, struct inode *in,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	e->attr_timeout = fs->opt.attr_timeout;
	e->entry_timeout = fs->opt.entry_timeout;
	inode_to_stat(fs, in, &e->attr);
}

static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -ENOENT;
	if (len > META_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Looks up @parent as a live directory. */
/*
 * May the open transaction take a change? -EIO once a commit has failed
 * (what memory holds can no longer be saved: doc/DESIGN.md, "Errors from
 * the host"), -EROFS on a read-only mount. fs->lock held.
 */
static int can_change(struct fs *fs)
{
	if (fs->commit_error)
		return -EIO;
	if (fs->opt.readonly)
		return -EROFS;
	return 0;
}

/* What one new row costs in meta.db beyond its name or value (estimate). */
#define ROW_COST 256

/*
 * can_change(), and room on the host for @bytes more metadata (a name, a
 * symlink target, an xattr value) besides what the open transaction has
 * added already: SQLite needs it all at the commit, in its journal and
 * then in meta.db, so a create or setxattr that the commit could not save
 * fails now with ENOSPC instead. Removals never need this. fs->lock held.
 */
static int meta_room(struct fs *fs, size_t bytes)
{
	int rc = can_change(fs);

	if (rc)
		return rc;
	rc = store_room(&fs->st, 2 * (fs->txn_bytes + bytes + ROW_COST), true);
	if (rc)
		return rc;
	fs->txn_bytes += bytes + ROW_COST;
	/* A big transaction is committed early, while there is room. */
	if (fs->txn_bytes > store_reserve(&fs->st) / 8)
		fs_kick_commit(fs);
	return 0;
}

static struct inode *get_dir(struct fs *fs, uint64_t parent, int *err)
{
	struct inode *dir = inode_get(fs, parent, err);

	if (!dir)
		return NULL;
	if (!S_ISDIR(dir->attr.mode)) {
		*err = -ENOTDIR;
		return NULL;
	}
	if (dir->attr.nlink == 0) {
		*err = -ENOENT;
		return NULL;
	}
	return dir;
}

/* --- POSIX ACL inheritance (the xattr format of linux/posix_acl_xattr.h) */

#define ACL_VERSION 2
#define ACL_USER_OBJ 0x01
#define ACL_GROUP_OBJ 0x04
#define ACL_MASK 0x10
#define ACL_OTHER 0x20

struct acl_entry {
	uint16_t tag;
	uint16_t perm;
	uint32_t id;
};

/*
 * Applies a parent's default ACL to a new inode's mode, as the kernel's
 * posix_acl_create() does: each permission of the ACL is limited by the
 * requested mode, and the mode's bits are taken from the ACL. Returns true
 * if the resulting access ACL has entries beyond the mode (so it must be
 * stored). @acl is modified in place.
 */
static bool acl_apply_mode(char *acl, size_t len, uint32_t *mode)
{
	size_t n = (len - 4) / sizeof(struct acl_entry);
	struct acl_entry *e = (struct acl_entry *)(acl + 4);
	struct acl_entry *group_obj = NULL, *mask = NULL;
	uint32_t m = *mode;
	bool extended = false;

	for (size_t i = 0; i < n; i++) {
		uint16_t tag = le16toh(e[i].tag);
		uint16_t perm = le16toh(e[i].perm);

		switch (tag) {
		case ACL_USER_OBJ:
			perm &= (m >> 6) & 7;
			m = (m & ~(7u << 6)) | ((uint32_t)perm << 6);
			break;
		case ACL_GROUP_OBJ:
			group_obj = &e[i];
			break;
		case ACL_MASK:
			mask = &e[i];
			break;
		case ACL_OTHER:
			perm &= m & 7;
			m = (m & ~7u) | perm;
			break;
		default:
			extended = true;
		}
		e[i].perm = htole16(perm);
	}
	if (mask) {
		uint16_t perm = le16toh(mask->perm) & ((m >> 3) & 7);

		mask->perm = htole16(perm);
		m = (m & ~(7u << 3)) | ((uint32_t)perm << 3);
		extended = true;
	} else if (group_obj) {
		uint16_t perm = le16toh(group_obj->perm) & ((m >> 3) & 7);

		group_obj->perm = htole16(perm);
		m = (m & ~(7u << 3)) | ((uint32_t)perm << 3);
	}
	*mode = m;
	return extended;
}

/*
 * chmod of a file with an access ACL: the ACL's owner, mask (or owning
 * group) and others entries follow the new mode, as posix_acl_chmod() does
 * for kernel filesystems (FUSE leaves it to the daemon).
 */
static int acl_chmod(struct fs *fs, struct inode *in, uint32_t mode)
{
	char buf[META_XATTR_SIZE_MAX];
	struct acl_entry *e = (struct acl_entry *)(buf + 4);
	struct acl_entry *group_obj = NULL, *mask = NULL;
	int len;

	if (in->has_xattrs == 0)
		return 0;
	len = meta_xattr_get(fs->st.meta, in->ino, ACL_XATTR_ACCESS, buf,
			     sizeof(buf));
	if (len == -ENODATA)
		return 0;
	if (len < 4)
		return len < 0 ? len : 0;
	for (size_t i = 0; i < ((size_t)len - 4) / sizeof(*e); i++) {
		switch (le16toh(e[i].tag)) {
		case ACL_USER_OBJ:
			e[i].perm = htole16((mode >> 6) & 7);
			break;
		case ACL_GROUP_OBJ:
			group_obj = &e[i];
			break;
		case ACL_MASK:
			mask = &e[i];
			break;
		case ACL_OTHER:
			e[i].perm = htole16(mode & 7);
			break;
		}
	}
	if (mask)
		mask->perm = htole16((mode >> 3) & 7);
	else if (group_obj)
		group_obj->perm = htole16((mode >> 3) & 7);
	return meta_xattr_set(fs->st.meta, in->ino, ACL_XATTR_ACCESS, buf,
			      (size_t)len, XATTR_REPLACE);
}

struct new_acls {
	char *def;	/* parent's default ACL, or NULL */
	size_t deflen;
	char *access;	/* the new inode's access ACL, or NULL */
	size_t acclen;
};

/*
 * Decides the mode of a new inode in @dir: the parent's default ACL if it
 * has one, else the caller's umask. Fills @acls with what to store.
 */
static int new_mode(struct fs *fs, struct inode *dir, uint32_t *mode,
		    uint32_t umask, struct new_acls *acls)
{
	char buf[META_XATTR_SIZE_MAX];
	int len = -ENODATA;

	memset(acls, 0, sizeof(*acls));
	if (dir->has_xattrs != 0)
		len = meta_xattr_get(fs->st.meta, dir->ino, ACL_XATTR_DEFAULT,
				     buf, sizeof(buf));
	if (len == -ENODATA || (len >= 0 && len < 4) || S_ISLNK(*mode)) {
		if (!S_ISLNK(*mode))
			*mode &= ~umask;
		return 0;
	}
	if (len < 0)
		return len;
	if (S_ISDIR(*mode)) {
		acls->def = malloc((size_t)len);
		if (!acls->def)
			return -ENOMEM;
		memcpy(acls->def, buf, (size_t)len);
		acls->deflen = (size_t)len;
	}
	if (acl_apply_mode(buf, (size_t)len, mode)) {
		acls->access = malloc((size_t)len);
		if (!acls->access) {
			free(acls->def);
			acls->def = NULL;
			return -ENOMEM;
		}
		memcpy(acls->access, buf, (size_t)len);
		acls->acclen = (size_t)len;
	}
	return 0;
}

/*
 * The largest WRITE: @asked (0: as large as splice allows), in whole pages
 * and, from one block up, whole blocks, so that writes into a clone do
 * not end inside a block that must then be copied on write.
 */
static uint32_t max_write_for(uint32_t asked, uint32_t bs)
{
	uint32_t mw = (asked ? asked : COWFS_MAX_WRITE) & ~4095u;

	return mw >= bs ? mw & ~(bs - 1) : mw;
}

static void fs_init_conn(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;
	unsigned want = 0;

	if (!fs->opt.nosplice) {
		/* Data moves pack <-> pipe <-> /dev/fuse, never via memory. */
		want |= FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_SPLICE_MOVE;
	}
	if (fs->opt.writeback)
		/* The kernel batches small writes into pages. */
		want |= FUSE_CAP_WRITEBACK_CACHE;
	/* We apply the umask, or the parent's default ACL instead. */
	want |= FUSE_CAP_DONT_MASK | FUSE_CAP_POSIX_ACL;
	/* One round trip lists a directory and its attributes. */
	want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
	/* Lookups in one directory need not wait for each other. */
	want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Open with O_TRUNC truncates in fs_open: one round trip, not two. */
	want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* File handles outlive the kernel's inode cache (lookup_dot). */
	want |= FUSE_CAP_EXPORT_SUPPORT;
	conn->want |= want & conn->capable;
	/*
	 * The kernel then marks the mount SB_NOSEC: a write no longer asks
	 * for security.capability first (a GETXATTR round trip per write(2)
	 * otherwise, 2.5x fewer 4 KiB random writes per second); setuid and
	 * setgid are ours to clear (suidgid_killed).
	 */
	fs->killpriv = loop_init_flags(LOOP_INIT_KILLPRIV_V2) != 0;
	/*
	 * We are the only writer: cached pages never go stale behind the
	 * kernel's back, so it need not drop them when mtime changes. Not
	 * FUSE_HANDLE_KILLPRIV: version 2, above, says more.
	 */
	conn->want &= ~(unsigned)(FUSE_CAP_AUTO_INVAL_DATA |
				  FUSE_CAP_HANDLE_KILLPRIV);
	if (fs->opt.nosplice)
		conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				FUSE_CAP_SPLICE_MOVE);
	if (!fs->opt.writeback)
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* We keep nanosecond times. */
	conn->time_gran = 1;
	/*
	 * Requests as large as splice allows. libfuse splices a request into
	 * a pipe only if the pipe holds max_write plus a 4 KiB header, and a
	 * pipe can grow only to fs.pipe-max-size (1 MiB) without
	 * CAP_SYS_RESOURCE: 1 MiB - 4 KiB (with exactly 1 MiB every write
	 * silently went through read() and a memory copy), in whole blocks:
	 * 960 KiB with 64 KiB blocks.
	 */
	conn->max_write = max_write_for(fs->opt.max_write, fs->bs);
	conn->max_readahead = 1 << 20;
	/*
	 * Requests the kernel sends without waiting for their answers
	 * (readahead, write-back) before it holds back more (the kernel's
	 * default is 12 and 9).
	 */
	conn->max_background = fs->opt.max_background ? fs->opt.max_background
						      : COWFS_MAX_BACKGROUND;
	conn->congestion_threshold =
		fs->opt.congestion ? fs->opt.congestion
				   : conn->max_background * 3 / 4;
	log_debug("init: capable %#x, want %#x", conn->capable, conn->want);
}

static void fs_destroy_conn(void *userdata)
{
	struct fs *fs = userdata;

	fs_commit(fs);
}

/*
 * An entry that names a missing inode is damage (fsck.cowfs repairs it);
 * the daemon drops the entry so that the name can be used again.
 */
static void repair_dangling(struct fs *fs, uint64_t parent, const char *name,
			    uint64_t ino)
{
	log_msg("entry \"%s\" in directory %llu names missing inode %llu: removing the entry",
		name, (unsigned long long)parent, (unsigned long long)ino);
	meta_dentry_delete(fs->st.meta, parent, name);
}

/*
 * A lookup of "." or ".." in @ino: the kernel's export operations
 * (FUSE_CAP_EXPORT_SUPPORT) ask for the inode a file handle names when it
 * no longer caches it ("."), and for a directory's parent (".."). Inode
 * numbers are never reused and the generation is always 1, so a handle
 * stays valid while its inode lives; an inode gone (unlinked and closed,
 * or never there) is ENOENT, which the kernel turns into ESTALE.
 */
static void lookup_dot(fuse_req_t req, fuse_ino_t ino, bool dotdot)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode *in = NULL;
	uint64_t target = ino;
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (dotdot) {
		if (!get_dir(fs, ino, &rc))
			goto out;
		if (ino != FUSE_ROOT_ID)
			rc = meta_dentry_parent(fs->st.meta, ino, &target);
	}
	if (!rc)
		in = get(fs, target, &rc);
	if (in && in->attr.nlink == 0) {
		in = NULL;
		rc = -ENOENT;
	}
	if (in) {
		in->nlookup++;
		fill_entry(fs, in, &e);
	}
out:
	pthread_mutex_unlock(&fs->lock);
	if (in)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, -rc);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode *dir, *in = NULL;
	uint64_t ino;
	int rc = check_name(name);

	if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && !name[2]))) {
		lookup_dot(req, parent, name[1] == '.');
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	inode_trim(fs);
	dir = get_dir(fs, parent, &rc);
	if (dir)
		rc = meta_dentry_lookup(fs->st.meta, parent, name, &ino);
	if (dir && !rc) {
		in = get(fs, ino, &rc);
		if (!in && rc == -ENOENT)
			repair_dangling(fs, parent, name, ino);
	}
	if (in && in->attr.nlink == 0) {
		/* A name with nlink 0 is damage, not an orphan: keep the data. */
		log_msg("inode %llu has a name but nlink 0: counting 1 (run fsck.cowfs)",
			(unsigned long long)ino);
		in->attr.nlink = S_ISDIR(in->attr.mode) ? 2 : 1;
		inode_mark_dirty(fs, in);
	}
	if (in) {
		in->nlookup++;
		fill_entry(fs, in, &e);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc == -ENOENT && dir) {
		/* A negative entry: the kernel caches the absence. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->opt.entry_timeout;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	inode_forget(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < count; i++)
		inode_forget(fs, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	struct stat st;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	if (in)
		inode_to_stat(fs, in, &st);
	pthread_mutex_unlock(&fs->lock);
	if (!in)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

/*
 * The file grows from @size toward @to: the bytes of its last block past
 * @size must read as zeros from now on. A consistent store has zeros there
 * (invariant 6), but after a crash that block may hold an in-place write
 * that extended the file and never committed: the size came back, the
 * bytes did not go. So they are zeroed here, up to @to or the block's
 * end. fs->lock held, and nothing may be writing past @size (the iolock
 * held exclusively, or @size covers every write in flight).
 */
static int zero_past_eof(struct fs *fs, struct inode *in, uint64_t size,
			 uint64_t to)
{
	uint32_t tail = (uint32_t)(size & (fs->bs - 1));
	uint64_t b = size >> fs->bshift;

	if (tail == 0 || to <= size)
		return 0;
	return map_zero_partial(fs, in, b, tail,
				(uint32_t)(MIN(to, (b + 1) << fs->bshift) - size));
}

/*
 * Changes the size of a regular file: blocks past the new end are unmapped
 * and the tail of the new last block zeroed (invariant 6). Caller holds the
 * inode's iolock exclusively and fs->lock.
 */
static int set_size(struct fs *fs, struct inode *in, uint64_t size)
{
	uint64_t old = in->attr.size;
	int rc = 0;

	if (size > COWFS_MAX_FILE_SIZE)
		return -EFBIG;
	in->write_end = 0;
	if (size > old)
		rc = zero_past_eof(fs, in, old, size);
	if (size < old) {
		uint64_t first = (size + fs->bs - 1) >> fs->bshift;
		uint64_t last = (old - 1) >> fs->bshift;
		uint32_t tail = (uint32_t)(size & (fs->bs - 1));

		if (first <= last)
			rc = map_unmap(fs, in, first, last);
		if (!rc && tail)
			rc = map_zero_partial(fs, in, size >> fs->bshift, tail,
					      fs->bs - tail);
	}
	if (!rc)
		in->attr.size = size;
	return rc;
}

/*
 * With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves the clearing of setuid
 * and setgid to us. The VFS's rule (setattr_should_drop_suidgid): a change
 * to a file's data or size by a caller without CAP_FSETID clears setuid,
 * and setgid if the file is group-executable or the caller is not in its
 * group (setgid without group execute otherwise marks mandatory locking).
 * A WRITE, an OPEN with O_TRUNC and a truncating SETATTR say when the
 * caller lacks CAP_FSETID; fallocate and copy_file_range say nothing, and
 * /proc tells. A chown of a non-directory clears setuid always, and
 * setgid of a group-executable file.
 */
struct caller {
	bool known;		/* read from /proc, or by uid */
	bool fsetid;		/* has CAP_FSETID */
	gid_t fsgid;
	gid_t groups[64];
	int ngroups;
};

/* What /proc/PID/status says of the process behind @req. */
static void caller_read(fuse_req_t req, struct caller *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], line[1024];
	FILE *f;

	c->known = true;
	c->fsetid = ctx->uid == 0; /* if it is gone: by its user */
	c->fsgid = ctx->gid;
	c->ngroups = 0;
	snprintf(path, sizeof(path), "/proc/%u/status", (unsigned)ctx->pid);
	f = ctx->pid ? fopen(path, "re") : NULL;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "CapEff:", 7) == 0) {
			c->fsetid = (strtoull(line + 7, NULL, 16) >>
				     CAP_FSETID) & 1;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p = line + 7, *e;

			while (c->ngroups < 64) {
				unsigned long g = strtoul(p, &e, 10);

				if (e == p)
					break;
				c->groups[c->ngroups++] = (gid_t)g;
				p = e;
			}
		} else if (strncmp(line, "Gid:", 4) == 0) {
			unsigned long g[4];

			if (sscanf(line + 4, "%lu %lu %lu %lu", &g[0], &g[1],
				   &g[2], &g[3]) == 4)
				c->fsgid = (gid_t)g[3];
		}
	}
	fclose(f);
}

static bool caller_in_group(const struct caller *c, gid_t gid)
{
	if (c->fsgid == gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

/*
 * The bits of @in's setuid/setgid that a change to its data or size by
 * the caller of @req clears; @lacks_fsetid when the kernel said so.
 * Reads /proc only for a file that has either bit (fs->lock not held).
 */
static uint32_t suidgid_killed(fuse_req_t req, const struct inode *in,
			       bool lacks_fsetid)
{
	uint32_t mode = in->attr.mode, bits = 0;
	struct caller c = { .known = false };

	if (!S_ISREG(mode) || !(mode & (S_ISUID | S_ISGID)))
		return 0;
	if (!lacks_fsetid) {
		caller_read(req, &c);
		if (c.fsetid)
			return 0;
	}
	if (mode & S_ISUID)
		bits |= S_ISUID;
	if ((mode & S_ISGID) && !(mode & S_IXGRP)) {
		if (!c.known)
			caller_read(req, &c);
		if (!caller_in_group(&c, in->attr.gid))
			bits |= S_ISGID;
	} else if (mode & S_ISGID) {
		bits |= S_ISGID;
	}
	return bits;
}

/*
 * Clears @bits of @in's mode (fs->lock held), as a change of mode: ctime
 * too. Returns whether the mode changed.
 */
static bool drop_suidgid(struct fs *fs, struct inode *in, uint32_t bits)
{
	if (!(in->attr.mode & bits))
		return false;
	in->attr.mode &= ~bits;
	in->attr.ctime_ns = now_ns();
	inode_mark_dirty(fs, in);
	return true;
}

/* The kernel's attributes of @ino are stale: it asks again. */
static void inval_attr(struct fs *fs, fuse_ino_t ino)
{
	int rc = fs->se ? fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0)
			: 0;

	if (rc && rc != -ENOENT)
		log_debug("invalidating the attributes of inode %llu: %s",
			  (unsigned long long)ino, strerror(-rc));
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	struct stat st;
	int64_t now = now_ns();
	bool locked_io = false;
	uint32_t kill = 0;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	if (in) {
		rc = can_change(fs);
		if (rc)
			in = NULL;
	}
	if (in && (to_set & FUSE_SET_ATTR_SIZE)) {
		if (!S_ISREG(in->attr.mode)) {
			rc = S_ISDIR(in->attr.mode) ? -EISDIR : -EINVAL;
			in = NULL;
		} else if ((uint64_t)attr->st_size > COWFS_MAX_FILE_SIZE) {
			rc = -EFBIG;
			in = NULL;
		} else {
			/* Lock order: iolock before fs->lock. */
			in->users++; /* no trim frees it meanwhile */
			pthread_mutex_unlock(&fs->lock);
			/* FATTR_KILL_SUIDGID is FUSE_SET_ATTR_KILL_SUID. */
			if (to_set & FUSE_SET_ATTR_KILL_SUID)
				kill = suidgid_killed(req, in, true);
			pthread_rwlock_wrlock(&in->iolock);
			pthread_mutex_lock(&fs->lock);
			in->users--;
			locked_io = true;
		}
	}
	if (!in)
		goto out;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = set_size(fs, in, (uint64_t)attr->st_size);
		if (rc)
			goto out;
		if (!(to_set & FUSE_SET_ATTR_MTIME))
			in->attr.mtime_ns = now;
	}
	if (fs->killpriv && !S_ISDIR(in->attr.mode) &&
	    (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		kill |= S_ISUID | (in->attr.mode & S_IXGRP ? S_ISGID : 0);
	drop_suidgid(fs, in, kill);
	if (to_set & FUSE_SET_ATTR_MODE) {
		rc = acl_chmod(fs, in, attr->st_mode);
		if (rc)
			goto out;
		in->attr.mode = (in->attr.mode & S_IFMT) |
				(attr->st_mode & 07777);
	}
	if (to_set & FUSE_SET_ATTR_UID)
		in->attr.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		in->attr.gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		in->attr.atime_ns = now;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		in->attr.atime_ns = ts_to_ns(&attr->st_atim);
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		in->attr.mtime_ns = now;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		in->attr.mtime_ns = ts_to_ns(&attr->st_mtim);
	if (to_set & FUSE_SET_ATTR_CTIME)
		in->attr.ctime_ns = ts_to_ns(&attr->st_ctim);
	else
		in->attr.ctime_ns = now;
	inode_mark_dirty(fs, in);
	inode_to_stat(fs, in, &st);
	log_debug("setattr %llu: valid %#x size %llu", (unsigned long long)ino,
		  to_set, (unsigned long long)in->attr.size);
out:
	pthread_mutex_unlock(&fs->lock);
	if (locked_io)
		pthread_rwlock_unlock(&in->iolock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	char buf[PATH_MAX + 1];
	int len;

	pthread_mutex_lock(&fs->lock);
	len = meta_link_get(fs->st.meta, ino, buf, PATH_MAX);
	pthread_mutex_unlock(&fs->lock);
	if (len < 0) {
		fuse_reply_err(req, -len);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Is @gid one of the caller's groups? */
static bool in_group(fuse_req_t req, const struct fuse_ctx *ctx, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (ctx->gid == gid)
		return true;
	n = fuse_req_getgroups(req, ARRAY_SIZE(groups), groups);
	for (int i = 0; i < n && i < (int)ARRAY_SIZE(groups); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Creates an inode named @name in @parent: the common part of mknod,
 * mkdir, symlink and create. Ownership comes from the caller (fsuid and
 * fsgid of the request) or, for the group, from a setgid parent. On
 * success the new inode has one kernel reference and fs->lock is held.
 */
static struct inode *make_node(fuse_req_t req, struct fs *fs, uint64_t parent,
			       const char *name, uint32_t mode, dev_t rdev,
			       const char *link, int *err)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct meta_inode a = { 0 };
	struct new_acls acls;
	struct inode *dir, *in = NULL;
	uint64_t ino;

	*err = check_name(name);
	if (*err)
		return NULL;
	if (link && strlen(link) > PATH_MAX) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	inode_trim(fs); /* the caller holds no inode yet */
	*err = meta_room(fs, strlen(name) + (link ? strlen(link) : 0));
	if (*err)
		return NULL;
	dir = get_dir(fs, parent, err);
	if (!dir)
		return NULL;
	*err = meta_dentry_lookup(fs->st.meta, parent, name, &ino);
	if (*err != -ENOENT) {
		if (*err == 0)
			*err = -EEXIST;
		return NULL;
	}
	*err = new_mode(fs, dir, &mode, ctx->umask, &acls);
	if (*err)
		return NULL;
	a.mode = mode;
	a.uid = ctx->uid;
	a.gid = ctx->gid;
	if (dir->attr.mode & S_ISGID) {
		a.gid = dir->attr.gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	if (!S_ISDIR(mode) && (a.mode & S_ISGID) && ctx->uid != 0 &&
	    !in_group(req, ctx, a.gid))
		a.mode &= ~(uint32_t)S_ISGID;
	a.nlink = S_ISDIR(mode) ? 2 : 1;
	a.rdev = rdev;
	a.size = link ? strlen(link) : 0;
	a.atime_ns = a.mtime_ns = a.ctime_ns = a.btime_ns = now_ns();
	in = inode_new(fs, &a, link, err);
	if (!in)
		goto out;
	*err = meta_dentry_insert(fs->st.meta, parent, name, in->ino);
	if (!*err && acls.access)
		*err = meta_xattr_set(fs->st.meta, in->ino, ACL_XATTR_ACCESS,
				      acls.access, acls.acclen, 0);
	if (!*err && acls.def)
		*err = meta_xattr_set(fs->st.meta, in->ino, ACL_XATTR_DEFAULT,
				      acls.def, acls.deflen, 0);
	if (*err) {
		in->attr.nlink = 0;
		inode_maybe_evict(fs, in);
		in = NULL;
		goto out;
	}
	in->has_xattrs = acls.access || acls.def;
	if (S_ISDIR(mode))
		dir->attr.nlink++;
	touch(fs, dir, true, true);
	in->nlookup++;
out:
	free(acls.access);
	free(acls.def);
	return in;
}

static void reply_new(fuse_req_t req, struct fs *fs, uint64_t parent,
		      const char *name, uint32_t mode, dev_t rdev,
		      const char *link)
{
	struct fuse_entry_param e;
	struct inode *in;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = make_node(req, fs, parent, name, mode, rdev, link, &rc);
	if (in)
		fill_entry(fs, in, &e);
	pthread_mutex_unlock(&fs->lock);
	if (!in)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISCHR(mode) && !S_ISBLK(mode)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	reply_new(req, fs_of(req), parent, name, mode, rdev, NULL);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	reply_new(req, fs_of(req), parent, name, S_IFDIR | (mode & 07777), 0,
		  NULL);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	reply_new(req, fs_of(req), parent, name, S_IFLNK | 0777, 0, link);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode *in;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = make_node(req, fs, parent, name, S_IFREG | (mode & 07777), 0,
		       NULL, &rc);
	if (in) {
		in->nopen++;
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			in->nwriters++;
		fill_entry(fs, in, &e);
	}
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->keep_cache = !fs->opt.no_keep_cache;
	fuse_reply_create(req, &e, fi);
}

/* Removes the name @name from @parent; @dir says which kind is wanted. */
static int remove_name(struct fs *fs, uint64_t parent, const char *name,
		       bool want_dir)
{
	struct inode *dir, *in;
	uint64_t ino;
	int rc = check_name(name);

	if (!rc)
		rc = can_change(fs);
	if (rc)
		return rc;
	dir = get_dir(fs, parent, &rc);
	if (!dir)
		return rc;
	rc = meta_dentry_lookup(fs->st.meta, parent, name, &ino);
	if (rc)
		return rc;
	in = inode_get(fs, ino, &rc);
	if (!in && rc == -ENOENT)
		repair_dangling(fs, parent, name, ino);
	if (!in)
		return rc;
	if (want_dir && !S_ISDIR(in->attr.mode))
		return -ENOTDIR;
	if (!want_dir && S_ISDIR(in->attr.mode))
		return -EISDIR;
	if (want_dir) {
		rc = meta_dir_is_empty(fs->st.meta, ino);
		if (rc == 0)
			return -ENOTEMPTY;
		if (rc < 0)
			return rc;
	}
	rc = meta_dentry_delete(fs->st.meta, parent, name);
	if (rc)
		return rc;
	if (want_dir) {
		in->attr.nlink = 0;
		dir->attr.nlink--;
	} else {
		in->attr.nlink--;
	}
	touch(fs, in, false, true);
	touch(fs, dir, true, true);
	inode_maybe_evict(fs, in);
	return 0;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = remove_name(fs, parent, name, false);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = remove_name(fs, parent, name, true);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

/* Is directory @anc equal to @dir or one of its ancestors? */
static int is_ancestor(struct fs *fs, uint64_t anc, uint64_t dir)
{
	for (int depth = 0; depth < 65536; depth++) {
		uint64_t parent;
		int rc;

		if (dir == anc)
			return 1;
		if (dir == META_ROOT_INO)
			return 0;
		rc = meta_dentry_parent(fs->st.meta, dir, &parent);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		dir = parent;
	}
	return -ELOOP;
}

static int do_rename(fuse_req_t req, struct fs *fs, uint64_t parent,
		     const char *name, uint64_t newparent, const char *newname,
		     unsigned int flags)
{
	struct inode *dir, *newdir, *src, *dst = NULL, *wh;
	uint64_t src_ino, dst_ino;
	bool whiteout = flags & RENAME_WHITEOUT;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				RENAME_WHITEOUT) ||
	    ((flags & RENAME_EXCHANGE) &&
	     (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))))
		return -EINVAL;
	rc = check_name(name);
	if (!rc)
		rc = check_name(newname);
	if (!rc)
		rc = meta_room(fs, strlen(newname) +
					   (whiteout ? strlen(name) : 0));
	if (rc)
		return rc;
	dir = get_dir(fs, parent, &rc);
	if (!dir)
		return rc;
	newdir = get_dir(fs, newparent, &rc);
	if (!newdir)
		return rc;
	rc = meta_dentry_lookup(fs->st.meta, parent, name, &src_ino);
	if (rc)
		return rc;
	src = inode_get(fs, src_ino, &rc);
	if (!src)
		return rc;
	rc = meta_dentry_lookup(fs->st.meta, newparent, newname, &dst_ino);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		dst = inode_get(fs, dst_ino, &rc);
		if (!dst)
			return rc;
	}
	if (dst == src)
		return 0; /* two names of one inode: nothing to do */
	if (!dst && (flags & RENAME_EXCHANGE))
		return -ENOENT;
	if (dst && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	/* A directory may not move into itself or below. */
	if (S_ISDIR(src->attr.mode) && parent != newparent) {
		rc = is_ancestor(fs, src_ino, newparent);
		if (rc)
			return rc < 0 ? rc : -EINVAL;
	}
	if (dst && (flags & RENAME_EXCHANGE) && S_ISDIR(dst->attr.mode) &&
	    parent != newparent) {
		rc = is_ancestor(fs, dst_ino, parent);
		if (rc)
			return rc < 0 ? rc : -EINVAL;
	}

	if (dst && (flags & RENAME_EXCHANGE)) {
		rc = meta_dentry_set_ino(fs->st.meta, parent, name, dst_ino);
		if (!rc)
			rc = meta_dentry_set_ino(fs->st.meta, newparent,
						 newname, src_ino);
		if (rc)
			return rc;
		if (S_ISDIR(src->attr.mode) != S_ISDIR(dst->attr.mode)) {
			struct inode *gain = S_ISDIR(src->attr.mode) ? newdir
								     : dir;
			struct inode *lose = gain == dir ? newdir : dir;

			gain->attr.nlink++;
			lose->attr.nlink--;
		}
		touch(fs, dst, false, true);
	} else {
		if (dst) {
			if (S_ISDIR(src->attr.mode) && !S_ISDIR(dst->attr.mode))
				return -ENOTDIR;
			if (!S_ISDIR(src->attr.mode) && S_ISDIR(dst->attr.mode))
				return -EISDIR;
			if (S_ISDIR(dst->attr.mode)) {
				rc = meta_dir_is_empty(fs->st.meta, dst_ino);
				if (rc == 0)
					return -ENOTEMPTY;
				if (rc < 0)
					return rc;
			}
			rc = meta_dentry_delete(fs->st.meta, newparent,
						newname);
			if (rc)
				return rc;
			if (S_ISDIR(dst->attr.mode)) {
				dst->attr.nlink = 0;
				newdir->attr.nlink--;
			} else {
				dst->attr.nlink--;
			}
			touch(fs, dst, false, true);
		}
		rc = meta_dentry_move(fs->st.meta, parent, name, newparent,
				      newname);
		if (rc)
			return rc;
		if (S_ISDIR(src->attr.mode) && parent != newparent) {
			dir->attr.nlink--;
			newdir->attr.nlink++;
		}
		if (dst)
			inode_maybe_evict(fs, dst);
	}
	touch(fs, src, false, true);
	touch(fs, dir, true, true);
	touch(fs, newdir, true, true);
	if (!whiteout)
		return 0;
	/*
	 * RENAME_WHITEOUT (overlayfs): the old name now names a whiteout, a
	 * character device 0/0 of the caller's, in the same transaction.
	 * The kernel gets no entry for it (no lookup count). Room for its
	 * name was checked above; what can still fail here is memory.
	 */
	wh = make_node(req, fs, parent, name, S_IFCHR, 0, NULL, &rc);
	if (!wh)
		return rc;
	wh->nlookup--;
	return 0;
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs *fs = fs_of(req);
	int rc;

	pthread_mutex_lock(&fs->lock);
	rc = do_rename(req, fs, parent, name, newparent, newname, flags);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct inode *dir, *in = NULL;
	uint64_t other;
	int rc = check_name(newname);

	pthread_mutex_lock(&fs->lock);
	if (!rc)
		rc = meta_room(fs, strlen(newname));
	if (rc)
		goto out;
	dir = get_dir(fs, newparent, &rc);
	if (!dir)
		goto out;
	in = get(fs, ino, &rc);
	if (!in)
		goto out;
	if (S_ISDIR(in->attr.mode)) {
		rc = -EPERM;
		goto out;
	}
	if (in->attr.nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	if (in->attr.nlink >= 65000) {
		rc = -EMLINK;
		goto out;
	}
	rc = meta_dentry_lookup(fs->st.meta, newparent, newname, &other);
	if (rc != -ENOENT) {
		rc = rc ? rc : -EEXIST;
		goto out;
	}
	rc = meta_dentry_insert(fs->st.meta, newparent, newname, ino);
	if (rc)
		goto out;
	in->attr.nlink++;
	in->nlookup++;
	touch(fs, in, false, true);
	touch(fs, dir, true, true);
	fill_entry(fs, in, &e);
out:
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	bool trunc = (fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY;
	bool killed = false;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	if (in) {
		in->nopen++;
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			in->nwriters++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (trunc && S_ISREG(in->attr.mode)) {
		/* FUSE_CAP_ATOMIC_O_TRUNC: the truncation is ours to do. */
		uint32_t kill = loop_kill_suidgid()
					? suidgid_killed(req, in, true) : 0;

		pthread_rwlock_wrlock(&in->iolock);
		pthread_mutex_lock(&fs->lock);
		rc = can_change(fs);
		if (!rc)
			rc = set_size(fs, in, 0);
		if (!rc) {
			touch(fs, in, true, true);
			killed = drop_suidgid(fs, in, kill);
		}
		pthread_mutex_unlock(&fs->lock);
		pthread_rwlock_unlock(&in->iolock);
		if (killed)
			inval_attr(fs, ino);
		if (rc) {
			pthread_mutex_lock(&fs->lock);
			in->nopen--;
			in->nwriters--;
			inode_maybe_evict(fs, in);
			pthread_mutex_unlock(&fs->lock);
			fuse_reply_err(req, -rc);
			return;
		}
	}
	/*
	 * Every change to the data passes through this kernel's page cache
	 * (O_DIRECT writes drop what they overwrite: fs_write_buf), so what
	 * it has cached is still right.
	 */
	fi->keep_cache = !fs->opt.no_keep_cache;
	fuse_reply_open(req, fi);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = inode_get(fs, ino, &rc);
	if (in) {
		in->nopen--;
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			in->nwriters--;
		inode_maybe_evict(fs, in);
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, 0);
}

/* relatime: update atime when it is older than mtime/ctime or a day. */
static void read_touch(struct fs *fs, struct inode *in)
{
	int64_t now = now_ns();
	const struct meta_inode *a = &in->attr;

	if (fs->opt.readonly)
		return;
	if (a->atime_ns <= a->mtime_ns || a->atime_ns <= a->ctime_ns ||
	    now - a->atime_ns >= 86400ll * 1000000000) {
		in->attr.atime_ns = now;
		inode_mark_dirty(fs, in);
	}
}

static struct fuse_bufvec *bufvec_new(size_t n)
{
	struct fuse_bufvec *bv = calloc(1, sizeof(*bv) + n * sizeof(bv->buf[0]));

	if (bv)
		bv->count = 0;
	return bv;
}

/* Appends a range of the pack (or of zeros for @pos 0), merging. */
static void bufvec_add(struct fs *fs, struct fuse_bufvec *bv, uint64_t pos,
		       size_t len)
{
	struct fuse_buf *last = bv->count ? &bv->buf[bv->count - 1] : NULL;

	if (pos && last && (last->flags & FUSE_BUF_IS_FD) &&
	    (uint64_t)last->pos + last->size == pos) {
		last->size += len;
		return;
	}
	last = &bv->buf[bv->count++];
	memset(last, 0, sizeof(*last));
	last->size = len;
	if (pos) {
		last->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		last->fd = fs->st.packfd;
		last->pos = (off_t)pos;
	} else {
		last->mem = fs->zero_page;
	}
}

/*
 * Counts a read reply's bytes as libfuse will move them
 * (fuse_send_data_iov): fd buffers by splice when splice is on, the
 * reply is two pages or more and it fits the pipe (1 MiB, where libfuse
 * wants a page for the header, one for each buffer and one more, besides
 * the data); memory buffers (holes: the zero page), and everything else,
 * by copy.
 */
static void count_read(struct fs *fs, const struct fuse_bufvec *bv,
		       uint64_t len)
{
	bool splice = !fs->opt.nosplice && len >= 2 * 4096 &&
		      4096 * (bv->count + 2) + 16 + len <= (1 << 20);

	for (size_t i = 0; i < bv->count; i++) {
		bool fd = bv->buf[i].flags & FUSE_BUF_IS_FD;

		__atomic_add_fetch(splice && fd ? &fs->read_spliced
						: &fs->read_copied,
				   bv->buf[i].size, __ATOMIC_RELAXED);
	}
}

/* A block a read under -o verify checks before it replies. */
struct verify {
	uint64_t slot, block;
	uint8_t sum[META_SUM_SIZE];
};

/*
 * -o verify: reads each checksummed slot of the reply whole and compares.
 * A slot with a sum is never written (invariant 7), so a mismatch is
 * damage: EIO, and a log line naming the file and block.
 */
static int verify_blocks(struct fs *fs, fuse_ino_t ino,
			 const struct verify *vf, size_t n)
{
	uint8_t got[META_SUM_SIZE];
	void *buf;
	int rc = 0;

	if (n == 0)
		return 0;
	buf = malloc(fs->bs);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = store_sum_slot(&fs->st, vf[i].slot, buf, false, got);
		if (!rc && memcmp(got, vf[i].sum, META_SUM_SIZE) != 0)
			rc = -EIO;
		if (rc)
			log_msg("inode %llu block %llu: slot %llu %s",
				(unsigned long long)ino,
				(unsigned long long)vf[i].block,
				(unsigned long long)vf[i].slot,
				rc == -EIO ? "does not match its checksum"
					   : "cannot be read");
	}
	free(buf);
	return rc ? -EIO : 0;
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_bufvec *bv = NULL;
	struct verify *vf = NULL;
	size_t nvf = 0;
	struct inode *in;
	uint64_t end, pos;
	int rc;

	__atomic_add_fetch(&fs->io_requests, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* Held across the reply: no slot of ours is freed while we splice. */
	pthread_rwlock_rdlock(&in->iolock);
	pthread_mutex_lock(&fs->lock);
	end = MIN((uint64_t)off + size, in->attr.size);
	if ((uint64_t)off >= end) {
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_buf(req, NULL, 0);
		goto out;
	}
	bv = bufvec_new(((end - (uint64_t)off) >> fs->bshift) + 2);
	if (fs->opt.verify)
		vf = malloc((((end - (uint64_t)off) >> fs->bshift) + 2) *
			    sizeof(*vf));
	if (!bv || (fs->opt.verify && !vf)) {
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	for (pos = (uint64_t)off; pos < end;) {
		uint64_t b = pos >> fs->bshift;
		uint32_t boff = (uint32_t)(pos & (fs->bs - 1));
		size_t len = MIN(fs->bs - boff, end - pos);
		uint64_t slot = map_lookup(fs, in, b);

		if (store_slot_lost(&fs->st, slot)) {
			log_msg("inode %llu block %llu: slot %llu is past the end of the pack",
				(unsigned long long)ino, (unsigned long long)b,
				(unsigned long long)slot);
			pthread_mutex_unlock(&fs->lock);
			fuse_reply_err(req, EIO);
			goto out;
		}
		bufvec_add(fs, bv, slot ? store_slot_offset(&fs->st, slot) + boff
					: 0, len);
		if (vf && slot && !(fs->st.refs[slot] & SLOT_HOT) &&
		    meta_slot_get_sum(fs->st.meta, slot, vf[nvf].sum) == 1) {
			vf[nvf].slot = slot;
			vf[nvf++].block = b;
		}
		pos += len;
	}
	/*
	 * A reader that opened the file O_DIRECT keeps its data out of the
	 * page cache: the pack is read O_DIRECT too, from the disk into the
	 * pipe, when every piece is whole pages (the kernel first writes
	 * back what the pack's cache holds dirty in the range).
	 */
	if ((fi->flags & O_DIRECT) && fs->st.packfd_direct >= 0 &&
	    (((uint64_t)off | (end - (uint64_t)off)) & 4095) == 0)
		for (size_t i = 0; i < bv->count; i++)
			if (bv->buf[i].flags & FUSE_BUF_IS_FD)
				bv->buf[i].fd = fs->st.packfd_direct;
	read_touch(fs, in);
	pthread_mutex_unlock(&fs->lock);
	rc = verify_blocks(fs, ino, vf, nvf);
	if (rc) {
		fuse_reply_err(req, -rc);
		goto out;
	}
	count_read(fs, bv, end - (uint64_t)off);
	rc = fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
	if (rc)
		log_debug("read reply failed: %s", strerror(-rc));
out:
	pthread_rwlock_unlock(&in->iolock);
	free(bv);
	free(vf);
}

static void fs_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	size_t size = fuse_buf_size(in_buf);
	struct fuse_bufvec *bv = NULL;
	struct inode *in;
	uint64_t end, pos;
	bool killed = false, direct = false;
	uint32_t kill;
	ssize_t res;
	int rc;

	/*
	 * Nothing past the largest file size. A local filesystem writes
	 * short up to it, but the kernel takes a short reply to a direct
	 * write for EIO and ignores one to a write-back: the whole request
	 * fails with EFBIG (seen at write(2), or at fsync and close through
	 * the writeback cache).
	 */
	end = (uint64_t)off + size;
	if (off < 0 || end > COWFS_MAX_FILE_SIZE) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	__atomic_add_fetch(&fs->io_requests, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	kill = loop_kill_suidgid() ? suidgid_killed(req, in, true) : 0;
	pthread_rwlock_rdlock(&in->iolock);
	/*
	 * Blocks with a checksum are not written in place (invariant 7):
	 * rather than copying each, their chunk's sums are cleared and
	 * committed first (one commit per 64 MiB chunk); after that the
	 * write goes in place. A second round copies whatever still needs it.
	 */
	for (int round = 0;; round++) {
		bool wait = false;

		pthread_rwlock_rdlock(&fs->commit_lock);
		pthread_mutex_lock(&fs->lock);
		rc = can_change(fs);
		for (pos = (uint64_t)off & ~(uint64_t)(fs->bs - 1);
		     !rc && round == 0 && pos < end; pos += fs->bs) {
			int w = map_permit(fs, in, pos >> fs->bshift);

			if (w < 0)
				rc = w;
			wait |= w > 0;
		}
		if (rc || !wait)
			break;
		pthread_mutex_unlock(&fs->lock);
		pthread_rwlock_unlock(&fs->commit_lock);
		fs_commit(fs); /* an error stays in fs->commit_error */
	}
	if (!rc) {
		/*
		 * A write past the end: the gap before it reads as zeros.
		 * Writes still in flight count as the end already, so that
		 * their data is not zeroed behind them.
		 */
		uint64_t e = MAX(in->attr.size, in->write_end);

		if ((uint64_t)off > e)
			rc = zero_past_eof(fs, in, e, (uint64_t)off);
		if (!rc && end > in->write_end)
			in->write_end = end;
	}
	if (!rc) {
		bv = bufvec_new((size >> fs->bshift) + 2);
		rc = bv ? 0 : -ENOMEM;
	}
	fs->st.pending += size; /* for store_room() */
	for (pos = (uint64_t)off; !rc && pos < end;) {
		uint64_t b = pos >> fs->bshift;
		uint32_t boff = (uint32_t)(pos & (fs->bs - 1));
		uint32_t len = (uint32_t)MIN(fs->bs - boff, end - pos);
		int64_t slot = map_prepare_write(fs, in, b, boff, len);

		if (slot < 0) {
			rc = (int)slot;
			break;
		}
		bufvec_add(fs, bv,
			   store_slot_offset(&fs->st, (uint64_t)slot) + boff,
			   len);
		pos += len;
	}
	/*
	 * Pages the kernel writes back from its cache arrive in the pipe as
	 * whole, page-aligned buffers: spliced to the O_DIRECT pack they
	 * reach the disk with no copy at all. Not below a block: a small
	 * write (random 4 KiB pages) would wait for the disk each time,
	 * where the host's page cache takes it at once and the commit's
	 * fdatasync writes it out. And not over a range of the file written
	 * through the host's cache lately (until a commit has synced those
	 * pages): a direct write must first flush the dirty pages of its
	 * range, and a random writer's large and small write-backs hit the
	 * same ranges (bench rand write: 20-53k/s against 62-72k/s all
	 * buffered).
	 */
	if (!rc) {
		int64_t t = mono_ns();
		bool recent = t - in->buffered_ns <=
			      (int64_t)MAX(fs->opt.commit_interval, 1) *
				      1000000000;

		direct = !fs->opt.nosplice && fi->writepage &&
			 fs->st.packfd_direct >= 0 &&
			 (in_buf->buf[0].flags & FUSE_BUF_IS_FD) &&
			 ((uint64_t)off | size) % 4096 == 0 &&
			 size >= fs->bs &&
			 (!recent || end <= in->buffered_lo ||
			  (uint64_t)off >= in->buffered_hi);
		if (!direct) {
			in->buffered_lo = recent ? MIN(in->buffered_lo,
						       (uint64_t)off)
						 : (uint64_t)off;
			in->buffered_hi = recent ? MAX(in->buffered_hi, end)
						 : end;
			in->buffered_ns = t;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		res = rc;
	} else {
		if (direct)
			for (size_t i = 0; i < bv->count; i++)
				bv->buf[i].fd = fs->st.packfd_direct;
		res = fuse_buf_copy(bv, in_buf,
				    fs->opt.nosplice ? FUSE_BUF_NO_SPLICE
						     : FUSE_BUF_SPLICE_NONBLOCK);
	}
	if (res > 0)
		__atomic_add_fetch(!fs->opt.nosplice &&
					   (in_buf->buf[0].flags & FUSE_BUF_IS_FD)
				   ? &fs->write_spliced
				   : &fs->write_copied,
				   (uint64_t)res, __ATOMIC_RELAXED);
	pthread_mutex_lock(&fs->lock);
	fs->st.pending -= size;
	if (res > 0) {
		fs->st.pack_written = true;
		if ((uint64_t)off + (uint64_t)res > in->attr.size)
			in->attr.size = (uint64_t)off + (uint64_t)res;
		/*
		 * With the writeback cache the kernel owns mtime and ctime and
		 * sends them by SETATTR; a late background WRITE must not
		 * overwrite them with our clock.
		 */
		if (fs->opt.writeback)
			inode_mark_dirty(fs, in);
		else
			touch(fs, in, true, true);
		killed = drop_suidgid(fs, in, kill);
	}
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_unlock(&fs->commit_lock);
	pthread_rwlock_unlock(&in->iolock);
	free(bv);
	/* The kernel still has the mode it sent this write with. */
	if (killed)
		inval_attr(fs, ino);
	/*
	 * An O_DIRECT write went around the kernel's page cache. After a
	 * synchronous one the kernel drops the range it cached; after an
	 * asynchronous one (io_submit) it does not, and a buffered reader may
	 * have cached the old data while the write was in flight: drop it
	 * here, before the write completes (xfstests generic/451). Pages
	 * being read are waited for; other threads serve those reads.
	 */
	if (res > 0 && !fi->writepage && (fi->flags & O_DIRECT) && fs->se) {
		int irc = fuse_lowlevel_notify_inval_inode(fs->se, ino, off,
							   (off_t)res);

		if (irc && irc != -ENOENT)
			log_debug("write: invalidating inode %llu: %s",
				  (unsigned long long)ino, strerror(-irc));
	}
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else
		fuse_reply_write(req, (size_t)res);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_commit(fs_of(req)));
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs host, st;
	uint64_t free_blocks, avail_blocks;

	if (fstatvfs(fs->st.dirfd, &host) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	free_blocks = (uint64_t)host.f_bfree * host.f_frsize >> fs->bshift;
	/* What store_room() keeps back for meta.db is not available. */
	avail_blocks = (uint64_t)host.f_bavail * host.f_frsize;
	pthread_mutex_lock(&fs->lock);
	avail_blocks -= MIN(avail_blocks, store_reserve(&fs->st));
	pthread_mutex_unlock(&fs->lock);
	avail_blocks >>= fs->bshift;
	memset(&st, 0, sizeof(st));
	st.f_bsize = fs->bs;
	st.f_frsize = fs->bs;
	pthread_mutex_lock(&fs->lock);
	st.f_blocks = fs->st.used + free_blocks;
	st.f_files = (fsfilcnt_t)fs->ninodes_total + host.f_ffree;
	pthread_mutex_unlock(&fs->lock);
	st.f_bfree = free_blocks;
	st.f_bavail = avail_blocks;
	st.f_ffree = host.f_ffree;
	st.f_favail = host.f_favail;
	st.f_namemax = META_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

/*
 * Which names cowfs stores: the namespaces a local filesystem has. The
 * kernel has already checked who may use them (trusted.* needs
 * CAP_SYS_ADMIN, user.* only on files and directories).
 */
static bool xattr_name_ok(const char *name)
{
	static const char *const prefixes[] = { "user.", "trusted.",
						 "security." };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])) &&
		    name[strlen(prefixes[i])])
			return true;
	return !strcmp(name, ACL_XATTR_ACCESS) ||
	       !strcmp(name, ACL_XATTR_DEFAULT);
}

/*
 * An access ACL carries the file's permission bits (the owner, the mask or
 * owning group, and others entries); the kernel leaves it to us to keep
 * the mode in step. Returns -EINVAL for a malformed ACL, else 0 and sets
 * *@mode's permission bits and *@minimal (the ACL says no more than the
 * mode, so nothing needs storing).
 */
static int acl_to_mode(const char *value, size_t size, uint32_t *mode,
		       bool *minimal)
{
	const struct acl_entry *e = (const struct acl_entry *)(value + 4);
	size_t n = (size - 4) / sizeof(*e);
	uint32_t user = 0, group = 0, mask = 0, other = 0, version;
	bool has_mask = false, has_group = false;

	if (size < 4 || (size - 4) % sizeof(*e))
		return -EINVAL;
	memcpy(&version, value, sizeof(version));
	if (le32toh(version) != ACL_VERSION)
		return -EINVAL;
	*minimal = true;
	for (size_t i = 0; i < n; i++) {
		uint32_t perm = le16toh(e[i].perm) & 7;

		switch (le16toh(e[i].tag)) {
		case ACL_USER_OBJ:
			user = perm;
			break;
		case ACL_GROUP_OBJ:
			group = perm;
			has_group = true;
			break;
		case ACL_MASK:
			mask = perm;
			has_mask = true;
			*minimal = false;
			break;
		case ACL_OTHER:
			other = perm;
			break;
		default:
			*minimal = false;
		}
	}
	if (!has_group)
		return -EINVAL;
	*mode = (*mode & ~0777u) | user << 6 | (has_mask ? mask : group) << 3 |
		other;
	return 0;
}

static int has_xattrs(struct fs *fs, struct inode *in);

/*
 * The kernel lists at most XATTR_LIST_MAX (64 KiB) of names: a file with
 * more could never be listed (getfattr, cp -a and tar would fail with
 * E2BIG), so a new name that would not fit is refused with ENOSPC, as a
 * local filesystem refuses one it has no room for. fs->lock held.
 */
static int xattr_list_room(struct fs *fs, struct inode *in, const char *name)
{
	int rc = has_xattrs(fs, in);

	if (rc <= 0)
		return rc;
	rc = meta_xattr_list(fs->st.meta, in->ino, NULL, 0);
	if (rc < 0 || (size_t)rc + strlen(name) + 1 <= XATTR_LIST_MAX)
		return rc < 0 ? rc : 0;
	rc = meta_xattr_get(fs->st.meta, in->ino, name, NULL, 0);
	return rc >= 0 ? 0 : rc == -ENODATA ? -ENOSPC : rc;
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs *fs = fs_of(req);
	bool acl = !strcmp(name, ACL_XATTR_ACCESS), minimal = false;
	struct inode *in;
	struct caller c = { .known = false };
	uint32_t mode = 0;
	int rc;

	if (strlen(name) > META_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (size > META_XATTR_SIZE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	if (!xattr_name_ok(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/*
	 * As posix_acl_update_mode, which the kernel leaves to the daemon
	 * (with KILLPRIV_V2 it would say so by FUSE_SETXATTR_ACL_KILL_SGID,
	 * in an extended request libfuse 3.14 cannot read): setgid stays
	 * only for a member of the file's group or with CAP_FSETID.
	 */
	if (acl)
		caller_read(req, &c);
	pthread_mutex_lock(&fs->lock);
	in = inode_get(fs, ino, &rc);
	if (in) {
		rc = meta_room(fs, strlen(name) + size);
		if (rc)
			in = NULL;
	}
	if (in && acl) {
		mode = in->attr.mode;
		rc = acl_to_mode(value, size, &mode, &minimal);
		if (!c.fsetid && !caller_in_group(&c, in->attr.gid))
			mode &= ~(uint32_t)S_ISGID;
	}
	if (in && !rc && minimal) {
		/* Equivalent to the mode: store nothing, as ext4 does. */
		rc = meta_xattr_remove(fs->st.meta, ino, name);
		if (rc == -ENODATA && !(flags & XATTR_REPLACE))
			rc = 0;
		in->has_xattrs = -1;
	} else if (in && !rc) {
		rc = xattr_list_room(fs, in, name);
		if (!rc)
			rc = meta_xattr_set(fs->st.meta, ino, name, value,
					    size, flags);
		if (!rc)
			in->has_xattrs = 1;
	}
	if (in && !rc) {
		if (acl)
			in->attr.mode = mode;
		touch(fs, in, false, true);
		fs_note_changes(fs, 1);
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

/* Does the inode have xattrs? Answers from memory after the first time. */
static int has_xattrs(struct fs *fs, struct inode *in)
{
	if (in->has_xattrs < 0) {
		int rc = meta_xattr_any(fs->st.meta, in->ino);

		if (rc < 0)
			return rc;
		in->has_xattrs = rc;
	}
	return in->has_xattrs;
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct fs *fs = fs_of(req);
	char *buf = NULL;
	struct inode *in;
	int rc;

	if (size > META_XATTR_SIZE_MAX)
		size = META_XATTR_SIZE_MAX;
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	pthread_mutex_lock(&fs->lock);
	in = inode_get(fs, ino, &rc);
	if (in) {
		rc = has_xattrs(fs, in);
		if (rc == 0)
			rc = -ENODATA; /* e.g. security.capability on write */
		else if (rc > 0)
			rc = meta_xattr_get(fs->st.meta, ino, name, buf, size);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	char *buf = NULL;
	struct inode *in;
	int rc;

	if (size > (1 << 20))
		size = 1 << 20;
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	pthread_mutex_lock(&fs->lock);
	in = inode_get(fs, ino, &rc);
	if (in) {
		rc = has_xattrs(fs, in);
		if (rc > 0)
			rc = meta_xattr_list(fs->st.meta, ino, buf, size);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = inode_get(fs, ino, &rc);
	if (in)
		rc = can_change(fs);
	if (in && !rc) {
		rc = meta_xattr_remove(fs->st.meta, ino, name);
		if (!rc) {
			in->has_xattrs = -1;
			touch(fs, in, false, true);
			fs_note_changes(fs, 1);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_err(req, -rc);
}

struct dir_fill {
	struct fs *fs;
	fuse_req_t req;
	char *buf;
	size_t size, pos;
	bool plus;
	int err;
};

/* Adds one entry; returns 1 when the buffer is full. */
static int dir_add(struct dir_fill *d, const char *name, struct inode *in,
		   uint64_t ino, uint32_t mode, off_t next)
{
	size_t need;

	if (d->plus) {
		struct fuse_entry_param e;

		fill_entry(d->fs, in, &e);
		need = fuse_add_direntry_plus(d->req, d->buf + d->pos,
					      d->size - d->pos, name, &e, next);
	} else {
		struct stat st = { .st_ino = ino, .st_mode = mode };

		need = fuse_add_direntry(d->req, d->buf + d->pos,
					 d->size - d->pos, name, &st, next);
	}
	if (need > d->size - d->pos)
		return 1;
	d->pos += need;
	return 0;
}

static int dir_fill_one(void *ctx, const struct meta_dirent *de)
{
	struct dir_fill *d = ctx;
	struct inode *in = NULL;
	int rc;

	if (d->plus) {
		in = get(d->fs, de->ino, &rc);
		if (!in) {
			d->err = rc;
			return 1;
		}
	}
	rc = dir_add(d, de->name, in, de->ino, de->mode,
		     (off_t)(de->cookie + 2));
	if (rc == 0 && in)
		in->nlookup++; /* the kernel now holds a reference */
	else if (in)
		inode_maybe_evict(d->fs, in);
	return rc;
}

/*
 * Offsets: 1 after ".", 2 after "..", cookie + 2 after an entry, so a
 * listing resumes correctly however the directory changed meanwhile.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct fs *fs = fs_of(req);
	struct dir_fill d = { fs, req, NULL, size, 0, plus, 0 };
	struct inode *dir;
	int rc;

	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	inode_trim(fs);
	dir = get_dir(fs, ino, &rc);
	if (!dir && rc == -ENOENT)
		dir = inode_get(fs, ino, &rc); /* listing a removed dir: empty */
	if (!dir)
		goto out;
	if (off < 1 && dir_add(&d, ".", dir, ino, S_IFDIR, 1))
		goto out;
	if (off < 2 && dir_add(&d, "..", dir, ino, S_IFDIR, 2))
		goto out;
	if (dir->attr.nlink == 0)
		goto out;
	rc = meta_readdir(fs->st.meta, ino, off >= 2 ? (uint64_t)off - 2 : 0,
			  dir_fill_one, &d);
	if (rc > 0)
		rc = 0;
	if (d.err && d.pos == 0)
		rc = d.err;
out:
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.buf, d.pos);
	free(d.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -fs_commit(fs_of(req)));
}

/* Gives every hole in [first, last] a zeroed slot (fallocate mode 0). */
static int allocate_range(struct fs *fs, struct inode *in, uint64_t first,
			  uint64_t last)
{
	struct statvfs host;
	uint64_t need = 0;

	for (uint64_t b = first; b <= last; b++)
		need += map_lookup(fs, in, b) == 0;
	if (fstatvfs(fs->st.dirfd, &host) == 0 &&
	    need > ((uint64_t)host.f_bavail * host.f_frsize >> fs->bshift))
		return -ENOSPC;
	for (uint64_t b = first; b <= last; b++) {
		if (map_lookup(fs, in, b))
			continue;
		int64_t slot = map_prepare_write(fs, in, b, 0, 0);

		if (slot < 0)
			return (int)slot;
	}
	return 0;
}

/* Zeroes [off, end): whole blocks are unmapped, partial ones zeroed. */
static int zero_range(struct fs *fs, struct inode *in, uint64_t off,
		      uint64_t end)
{
	uint64_t first = (off + fs->bs - 1) >> fs->bshift;
	uint64_t last_excl = end >> fs->bshift;
	uint32_t mask = fs->bs - 1;
	int rc = 0;

	if (first > last_excl) {
		/* Inside one block. */
		return map_zero_partial(fs, in, off >> fs->bshift,
					(uint32_t)(off & mask),
					(uint32_t)(end - off));
	}
	if (off & mask)
		rc = map_zero_partial(fs, in, off >> fs->bshift,
				      (uint32_t)(off & mask),
				      fs->bs - (uint32_t)(off & mask));
	if (!rc && first < last_excl)
		rc = map_unmap(fs, in, first, last_excl - 1);
	if (!rc && (end & mask))
		rc = map_zero_partial(fs, in, last_excl, 0,
				      (uint32_t)(end & mask));
	return rc;
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	uint64_t off = (uint64_t)offset, end = off + (uint64_t)length;
	struct inode *in;
	bool killed = false;
	uint32_t kill;
	int rc;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (end > COWFS_MAX_FILE_SIZE || end < off) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	kill = fs->killpriv ? suidgid_killed(req, in, false) : 0;
	pthread_rwlock_wrlock(&in->iolock);
	pthread_mutex_lock(&fs->lock);
	rc = can_change(fs);
	if (rc) {
		/* nothing */
	} else if (!(mode & FALLOC_FL_KEEP_SIZE) && end > in->attr.size &&
		   (rc = zero_past_eof(fs, in, in->attr.size, end))) {
		/* failed */
	} else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		rc = zero_range(fs, in, off, end);
	} else {
		rc = allocate_range(fs, in, off >> fs->bshift,
				    (end - 1) >> fs->bshift);
	}
	if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) && end > in->attr.size)
		in->attr.size = end;
	if (!rc)
		touch(fs, in, !!(mode & (FALLOC_FL_PUNCH_HOLE |
					 FALLOC_FL_ZERO_RANGE)) ||
				      !(mode & FALLOC_FL_KEEP_SIZE),
		      true);
	if (!rc)
		killed = drop_suidgid(fs, in, kill);
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_unlock(&in->iolock);
	if (killed)
		inval_attr(fs, ino);
	fuse_reply_err(req, -rc);
}

/* Unaligned clones copy at most this much per request (cp asks again). */
#define CLONE_COPY_MAX (16ull << 20)

/*
 * Copies @n bytes from @src at @si to @dst at @so inside the pack, both
 * ranges within one block: the unaligned edges of a clone. A hole in the
 * source becomes zeros in the destination.
 */
static int clone_bytes(struct fs *fs, struct inode *src, uint64_t si,
		       struct inode *dst, uint64_t so, uint32_t n)
{
	uint64_t from = map_lookup(fs, src, si >> fs->bshift);
	uint32_t bi = (uint32_t)(si & (fs->bs - 1));
	uint32_t bo = (uint32_t)(so & (fs->bs - 1));
	int64_t to;

	if (from == 0)
		return map_zero_partial(fs, dst, so >> fs->bshift, bo, n);
	to = map_prepare_write(fs, dst, so >> fs->bshift, bo, n);
	if (to < 0)
		return (int)to;
	/* Read the source slot as it was: a copy-on-write above left it. */
	return store_copy_at(&fs->st, store_slot_offset(&fs->st, from) + bi,
			     store_slot_offset(&fs->st, (uint64_t)to) + bo, n);
}

/*
 * The clone: whole chunks of the source are shared by reference, whole
 * blocks by slot, and only unaligned edges are copied (in the kernel).
 * Returns the bytes done (maybe fewer than @len) or -errno if none.
 */
static int64_t clone_range(struct fs *fs, struct inode *src, uint64_t off_in,
			   struct inode *dst, uint64_t off_out, uint64_t len)
{
	uint64_t cbytes = (uint64_t)fs->bs * fs->st.chunk_blocks;
	uint64_t done = 0, copied = 0, dst_size = dst->attr.size;
	uint64_t mask = fs->bs - 1, end = off_in + len;
	int rc = zero_past_eof(fs, dst, dst_size, off_out);

	if (rc)
		return rc;

	/*
	 * The kernel cuts a large copy at 4 GiB - 4 KiB, inside a block. When
	 * both sides have the same alignment, stop at the last whole block
	 * instead: the caller asks again from there and that block is shared,
	 * not copied.
	 */
	if (((off_in ^ off_out) & mask) == 0 && (end & mask) &&
	    end < src->attr.size && (end & ~mask) > ((off_in + mask) & ~mask))
		len = (end & ~mask) - off_in;

	while (done < len && !rc) {
		uint64_t si = off_in + done, so = off_out + done;
		uint64_t rest = len - done, n;
		uint32_t bi = (uint32_t)(si & (fs->bs - 1));
		uint32_t bo = (uint32_t)(so & (fs->bs - 1));
		/*
		 * The source's last block, into the destination's end: the
		 * bytes past EOF are zeros on both sides (invariant 6), so
		 * the whole block can be shared.
		 */
		bool tail = rest < fs->bs && si + rest == src->attr.size &&
			    so + rest >= dst_size;

		if (bi == 0 && bo == 0 && si % cbytes == 0 &&
		    so % cbytes == 0 && rest >= cbytes) {
			n = cbytes;
			rc = map_share_chunk(fs, dst, so / cbytes, src,
					     si / cbytes);
		} else if (bi == 0 && bo == 0 && (rest >= fs->bs || tail)) {
			n = MIN(rest, fs->bs);
			rc = map_share_block(fs, dst, so >> fs->bshift, src,
					     si >> fs->bshift);
		} else {
			if (copied >= CLONE_COPY_MAX)
				break;
			n = MIN(rest, (uint64_t)MIN(fs->bs - bi, fs->bs - bo));
			rc = clone_bytes(fs, src, si, dst, so, (uint32_t)n);
			copied += n;
		}
		if (!rc)
			done += n;
	}
	if (done > 0 && off_out + done > dst->attr.size)
		dst->attr.size = off_out + done;
	return done > 0 ? (int64_t)done : rc;
}

static void fs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct fs *fs = fs_of(req);
	struct inode *src, *dst, *first, *second;
	bool killed = false;
	uint32_t kill;
	int64_t res;
	int rc;

	if (flags) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* As write(2): EFBIG at or past the largest size, short before it. */
	if (off_out < 0 || off_in < 0 ||
	    (uint64_t)off_out >= COWFS_MAX_FILE_SIZE) {
		fuse_reply_err(req, off_out < 0 || off_in < 0 ? EINVAL : EFBIG);
		return;
	}
	len = (size_t)MIN((uint64_t)len,
			  COWFS_MAX_FILE_SIZE - (uint64_t)off_out);
	pthread_mutex_lock(&fs->lock);
	src = get(fs, ino_in, &rc);
	dst = src ? get(fs, ino_out, &rc) : NULL;
	pthread_mutex_unlock(&fs->lock);
	if (!dst) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (!S_ISREG(src->attr.mode) || !S_ISREG(dst->attr.mode)) {
		fuse_reply_err(req, S_ISDIR(src->attr.mode) ||
					    S_ISDIR(dst->attr.mode) ? EISDIR
								   : EINVAL);
		return;
	}
	kill = fs->killpriv ? suidgid_killed(req, dst, false) : 0;
	/* Lock order for two inodes: the lower number first. */
	first = src->ino <= dst->ino ? src : dst;
	second = first == src ? dst : src;
	pthread_rwlock_wrlock(&first->iolock);
	if (second != first)
		pthread_rwlock_wrlock(&second->iolock);
	pthread_rwlock_rdlock(&fs->commit_lock);
	pthread_mutex_lock(&fs->lock);
	rc = can_change(fs);
	if ((uint64_t)off_in >= src->attr.size)
		len = 0;
	else
		len = (size_t)MIN((uint64_t)len, src->attr.size - (uint64_t)off_in);
	res = rc ? rc : len ? clone_range(fs, src, (uint64_t)off_in, dst,
					  (uint64_t)off_out, len) : 0;
	if (res > 0 && fs->opt.writeback)
		inode_mark_dirty(fs, dst); /* the kernel sends the times */
	else if (res > 0)
		touch(fs, dst, true, true);
	if (res >= 0)
		killed = drop_suidgid(fs, dst, kill);
	pthread_mutex_unlock(&fs->lock);
	pthread_rwlock_unlock(&fs->commit_lock);
	if (second != first)
		pthread_rwlock_unlock(&second->iolock);
	pthread_rwlock_unlock(&first->iolock);
	if (killed)
		inval_attr(fs, ino_out);
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else
		fuse_reply_write(req, (size_t)res);
}

static void ioctl_stat(fuse_req_t req, struct fs *fs, fuse_ino_t ino)
{
	struct cowfs_ioc_stat st = { 0 };
	struct inode *in;
	int rc;

	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	if (in) {
		st.size = S_ISREG(in->attr.mode) ? in->attr.size : 0;
		if (S_ISREG(in->attr.mode))
			map_stat(fs, in, &st.allocated, &st.shared);
		st.block_size = fs->bs;
		st.store_used = fs->st.used << fs->bshift;
		st.unsummed = store_hot_count(&fs->st) << fs->bshift;
		st.read_spliced = __atomic_load_n(&fs->read_spliced,
						  __ATOMIC_RELAXED);
		st.read_copied = __atomic_load_n(&fs->read_copied,
						 __ATOMIC_RELAXED);
		st.write_spliced = __atomic_load_n(&fs->write_spliced,
						   __ATOMIC_RELAXED);
		st.write_copied = __atomic_load_n(&fs->write_copied,
						  __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&fs->lock);
	if (!in)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_ioctl(req, 0, &st, sizeof(st));
}

/*
 * Is @slot's data damaged? Read with no lock; a mismatch counts only if,
 * under the lock, the slot still has the same sum and is not hot
 * (invariant 7: then nothing may have written it), and a second read
 * agrees: a slot freed, punched or reused meanwhile is not damage.
 */
static bool slot_damaged(struct fs *fs, uint64_t slot,
			 const uint8_t want[META_SUM_SIZE], void *buf)
{
	uint8_t got[META_SUM_SIZE], now[META_SUM_SIZE];
	bool still;

	if (store_sum_slot(&fs->st, slot, buf, true, got) == 0 &&
	    memcmp(got, want, META_SUM_SIZE) == 0)
		return false;
	pthread_mutex_lock(&fs->lock);
	still = store_slot_count(&fs->st, slot) > 0 &&
		!(fs->st.refs[slot] & SLOT_HOT) &&
		meta_slot_get_sum(fs->st.meta, slot, now) == 1 &&
		memcmp(now, want, META_SUM_SIZE) == 0;
	pthread_mutex_unlock(&fs->lock);
	if (!still)
		return false;
	return store_sum_slot(&fs->st, slot, buf, true, got) != 0 ||
	       memcmp(got, want, META_SUM_SIZE) != 0;
}

struct owners {
	struct cowfs_ioc_scrub *sc;
	uint64_t slot;
	uint32_t bshift;
	bool found;
};

static int add_owner(void *ctx, uint64_t ino, uint64_t block)
{
	struct owners *o = ctx;
	struct cowfs_ioc_scrub *sc = o->sc;

	o->found = true;
	if (sc->nbad == COWFS_SCRUB_BAD_MAX) {
		sc->more_bad++;
		return 0;
	}
	sc->bad[sc->nbad++] = (struct cowfs_scrub_bad){
		.slot = o->slot, .ino = ino, .offset = block << o->bshift
	};
	return 0;
}

static int scrub_step(struct fs *fs, struct cowfs_ioc_scrub *sc)
{
	enum { BATCH = 64 };
	uint64_t slots[BATCH], from = MAX(sc->start, 1), done = 0;
	uint64_t budget = MIN(MAX(sc->max_bytes, fs->bs), 1ull << 30);
	uint8_t (*sums)[META_SUM_SIZE] = malloc(BATCH * sizeof(*sums));
	void *buf = aligned_alloc(4096, fs->bs);
	int rc = sums && buf ? 0 : -ENOMEM;

	sc->next = 0;
	while (!rc && done < budget) {
		int n;

		pthread_mutex_lock(&fs->lock);
		n = meta_slot_sums(fs->st.meta, from, BATCH, slots, sums);
		pthread_mutex_unlock(&fs->lock);
		if (n <= 0) {
			rc = n;
			from = 0;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct owners o = { sc, slots[i], fs->bshift, false };

			if (!slot_damaged(fs, slots[i], sums[i], buf))
				continue;
			log_msg("slot %llu does not match its checksum",
				(unsigned long long)slots[i]);
			pthread_mutex_lock(&fs->lock);
			rc = meta_slot_owners(fs->st.meta, slots[i], add_owner,
					      &o, fs->st.chunk_blocks);
			pthread_mutex_unlock(&fs->lock);
			if (!rc && !o.found)
				add_owner(&o, 0, 0);
			if (rc)
				break;
		}
		sc->checked += (uint64_t)n;
		done += (uint64_t)n << fs->bshift;
		from = slots[n - 1] + 1;
	}
	sc->next = from;
	pthread_mutex_lock(&fs->lock);
	sc->store_slots = fs->st.used;
	sc->unsummed = store_hot_count(&fs->st);
	pthread_mutex_unlock(&fs->lock);
	sc->block_size = fs->bs;
	free(sums);
	free(buf);
	return rc;
}

static void ioctl_scrub(fuse_req_t req, struct fs *fs, const void *in_buf,
			size_t in_bufsz)
{
	struct cowfs_ioc_scrub *sc = calloc(1, sizeof(*sc));
	int rc;

	if (!sc) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(sc, in_buf, MIN(in_bufsz, sizeof(*sc)));
	sc->checked = sc->nbad = sc->more_bad = 0;
	rc = scrub_step(fs, sc);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_ioctl(req, 0, sc, sizeof(*sc));
	free(sc);
}

static void ioctl_path(fuse_req_t req, struct fs *fs, const void *in_buf)
{
	struct cowfs_ioc_path *p = malloc(sizeof(*p));
	int rc;

	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(&p->ino, in_buf, sizeof(p->ino));
	pthread_mutex_lock(&fs->lock);
	rc = meta_path(fs->st.meta, p->ino, p->path, sizeof(p->path));
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_ioctl(req, 0, p, sizeof(*p));
	free(p);
}

/* Constant while the daemon runs: no lock. */
static void ioctl_store(fuse_req_t req, struct fs *fs)
{
	struct cowfs_ioc_store s = { 0 };
	struct stat sb;

	if (fstat(fs->st.packfd, &sb) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	s.pack_dev = sb.st_dev;
	s.pack_ino = sb.st_ino;
	s.pid = (uint64_t)getpid();
	s.flags = fs->opt.readonly ? COWFS_STORE_READONLY : 0;
	fuse_reply_ioctl(req, 0, &s, sizeof(s));
}

static void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		     void *arg, struct fuse_file_info *fi, unsigned flags,
		     const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct fs *fs = fs_of(req);
	bool root = fuse_req_ctx(req)->uid == 0;

	switch (cmd) {
	case COWFS_IOC_STAT:
		if (out_bufsz < sizeof(struct cowfs_ioc_stat))
			fuse_reply_err(req, EINVAL);
		else
			ioctl_stat(req, fs, ino);
		return;
	case COWFS_IOC_SCRUB:
		/* It reads every file's data and names damaged files. */
		if (!root)
			fuse_reply_err(req, EPERM);
		else if (in_bufsz < sizeof(struct cowfs_ioc_scrub) ||
			 out_bufsz < sizeof(struct cowfs_ioc_scrub))
			fuse_reply_err(req, EINVAL);
		else
			ioctl_scrub(req, fs, in_buf, in_bufsz);
		return;
	case COWFS_IOC_PATH:
		if (!root)
			fuse_reply_err(req, EPERM);
		else if (in_bufsz < sizeof(uint64_t) ||
			 out_bufsz < sizeof(struct cowfs_ioc_path))
			fuse_reply_err(req, EINVAL);
		else
			ioctl_path(req, fs, in_buf);
		return;
	case COWFS_IOC_STORE:
		if (out_bufsz < sizeof(struct cowfs_ioc_store))
			fuse_reply_err(req, EINVAL);
		else
			ioctl_store(req, fs);
		return;
	default:
		fuse_reply_err(req, ENOTTY);
	}
}

/* First block >= @b that is mapped (@want_data) or a hole; UINT64_MAX if none. */
static uint64_t seek_block(struct fs *fs, struct inode *in, uint64_t b,
			   bool want_data, uint64_t nblocks)
{
	for (; b < nblocks; b++) {
		bool mapped = map_lookup(fs, in, b) != 0;

		if (mapped == want_data)
			return b;
		if (!mapped && want_data) {
			/* Skip to the next chunk that exists. */
			uint64_t C = fs->st.chunk_blocks, next = UINT64_MAX;

			for (size_t k = 0; k < in->nmap; k++)
				if (in->map[k].cidx >= b / C) {
					next = in->map[k].cidx * C;
					break;
				}
			if (next == UINT64_MAX)
				return UINT64_MAX;
			if (next > b)
				b = next - 1;
		}
	}
	return UINT64_MAX;
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode *in;
	uint64_t size, res = 0, b, nblocks;
	bool writers;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	in = get(fs, ino, &rc);
	writers = in && in->nwriters > 0;
	pthread_mutex_unlock(&fs->lock);
	if (!in) {
		fuse_reply_err(req, -rc);
		return;
	}
	/*
	 * The kernel does not write back dirty pages before it asks us, so
	 * with a writable handle open, data may still sit in its page cache,
	 * unknown to our map (FIELD-NOTES: the SEEK_HOLE trap). Invalidating
	 * the file's cache makes the kernel write those pages to us first
	 * (other threads serve the writes); only then is the map the truth.
	 */
	if (writers && fs->se) {
		rc = fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
		if (rc && rc != -ENOENT)
			log_debug("lseek: invalidating inode %llu: %s",
				  (unsigned long long)ino, strerror(-rc));
	}
	pthread_mutex_lock(&fs->lock);
	size = in->attr.size;
	if (off < 0 || (uint64_t)off >= size) {
		rc = -ENXIO;
		goto out;
	}
	nblocks = (size + fs->bs - 1) >> fs->bshift;
	b = seek_block(fs, in, (uint64_t)off >> fs->bshift,
		       whence == SEEK_DATA, nblocks);
	if (whence == SEEK_DATA) {
		if (b == UINT64_MAX)
			rc = -ENXIO;
		else
			res = MAX((uint64_t)off, b << fs->bshift);
	} else {
		res = b == UINT64_MAX ? size
				      : MIN(size, MAX((uint64_t)off,
						      b << fs->bshift));
	}
out:
	pthread_mutex_unlock(&fs->lock);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_lseek(req, (off_t)res);
}

const struct fuse_lowlevel_ops cowfs_ops = {
	.init = fs_init_conn,
	.destroy = fs_destroy_conn,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.create = fs_create,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.link = fs_link,
	.open = fs_open,
	.release = fs_release,
	/*
	 * No .flush: there is nothing to do at close (the kernel writes dirty
	 * pages back before it would send FLUSH, and POSIX locks are the
	 * kernel's), and without it the kernel stops asking after the first
	 * ENOSYS: one round trip less for every close.
	 */
	.read = fs_read,
	.write_buf = fs_write_buf,
	.fsync = fs_fsync,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.copy_file_range = fs_copy_file_range,
	.ioctl = fs_ioctl,
};
