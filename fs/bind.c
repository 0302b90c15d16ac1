/*
 * bind.c - a second mount point of a store that is mounted already.
 *
 * A kernel filesystem mounted twice from one block device is one
 * superblock seen at two places: the second mount(2) finds the superblock
 * of the first and adds a mount point to it, as a bind mount does. Some
 * programs rely on it (xfstests generic/732 mounts its scratch device on
 * two directories and renames files across them).
 *
 * A cowfs store can have one daemon only: the daemon caches inodes, chunk
 * maps and slot counts, and a second daemon on the same store would never
 * see what the first changes (it takes an exclusive flock on STORE/blocks
 * and refuses to start without it). So `cowfs STORE MNT2`, when STORE is
 * mounted at MNT1 already, starts no daemon: it makes MNT2 a bind mount of
 * MNT1 and exits. MNT2 is then the same FUSE connection and superblock,
 * served by the first daemon; the daemon runs until its last mount point
 * is unmounted, whichever that is (the kernel ends the connection when the
 * superblock goes).
 *
 * What is checked before binding:
 *  (1) MNT1 is listed in /proc/self/mountinfo as type fuse.cowfs with the
 *      store's real path as its source (cowfs mounts with fsname= that
 *      path), and it is the root of that filesystem (not a bind mount of
 *      a directory in it);
 *  (2) the daemon answering at MNT1 has STORE/blocks itself open: the
 *      COWFS_IOC_STORE ioctl on the opened MNT1 gives the device and inode
 *      of its pack file. A mount whose daemon died (ENOTCONN), a mount of
 *      a store that was moved or replaced since, or one whose daemon is an
 *      older cowfs without the ioctl, is not bound; the store's lock then
 *      decides as before (a new daemon, or the one-line refusal);
 *  (3) MNT2 is not a mount point of this store already.
 * The bind is made from the descriptor that was checked
 * (/proc/self/fd/N), so what is bound is what was checked even if
 * something is mounted over MNT1 meanwhile.
 *
 * Options. What belongs to the filesystem (allow_other,
 * default_permissions, commit=, nosplice, verify, writeback cache,
 * threads) belongs to the daemon and its superblock, and is the first
 * mount's: a second mount cannot change it, as a second mount of a block
 * device cannot change its superblock's options. What belongs to a
 * mount point in Linux is the second mount's own: ro, nosuid, nodev,
 * noexec, noatime, nodiratime (libfuse's defaults are nosuid,nodev;
 * mount.fuse3 adds suid,dev for root). A bind mount starts with the flags
 * of the mount it copies, so they are set afterwards with a
 * MS_REMOUNT|MS_BIND when they differ: between the two calls MNT2 is for a
 * moment a mount with MNT1's flags (as with `mount -o bind,ro` in older
 * util-linux). A store the daemon opened read-only gives a read-only
 * second mount point, with a note.
 *
 * Only root (CAP_SYS_ADMIN) may bind mounts; for other users cowfs goes on
 * as before and the store's lock refuses the second daemon in one line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/bind.h"
#include "fs/cowfs_ioctl.h"
#include "fs/util.h"

/* The flags a MS_REMOUNT|MS_BIND sets for one mount point. */
#define PER_MOUNT_FLAGS                                                        \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |          \
	 MS_NODIRATIME)

/* One mount found in mountinfo that may be the store's. */
struct candidate {
	char point[PATH_MAX];
	int fd;				/* the opened mount point */
	struct cowfs_ioc_store id;	/* what its daemon said */
};

/*
 * mountinfo escapes space, tab, newline and backslash as \ooo: undo it in
 * place. Returns @s.
 */
static char *unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' &&
		    r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 |
				      (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return s;
}

/*
 * Reads the next mount of /proc/self/mountinfo that is the root of a
 * fuse.cowfs filesystem whose source is @store, into @point, and its
 * device ("MAJOR:MINOR") into @dev if not NULL. Returns true if one was
 * found, false at the end.
 */
static bool next_cowfs_mount(FILE *f, const char *store, char *point,
			     size_t pointlen, char dev[32])
{
	char line[3 * PATH_MAX + 512];

	while (fgets(line, sizeof(line), f)) {
		char *field[5], *sep, *type, *source, *save = NULL;
		char *p = line;
		int n;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (n = 0; n < 5; n++) {
			field[n] = strtok_r(p, " ", &save);
			p = NULL;
			if (!field[n])
				break;
		}
		save = NULL;
		type = strtok_r(sep + 3, " ", &save);
		source = strtok_r(NULL, " ", &save);
		if (n < 5 || !type || !source || strcmp(type, "fuse.cowfs") ||
		    strcmp(field[3], "/") || strcmp(unescape(source), store))
			continue;
		unescape(field[4]);
		if (strlen(field[4]) >= pointlen || strlen(field[2]) >= 32)
			continue;
		strcpy(point, field[4]);
		if (dev)
			strcpy(dev, field[2]);
		return true;
	}
	return false;
}

/*
 * Opens @c->point and asks its daemon which store it serves. Returns 0 if
 * it is the store whose pack file is @pack (c->fd open), else -errno
 * (-ESTALE: another store) with c->fd closed.
 */
static int check_candidate(struct candidate *c, const struct stat *pack)
{
	int rc = 0;

	c->fd = open(c->point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	memset(&c->id, 0, sizeof(c->id));
	if (ioctl(c->fd, COWFS_IOC_STORE, &c->id) < 0)
		rc = -errno;
	else if (c->id.pack_dev != (uint64_t)pack->st_dev ||
		 c->id.pack_ino != (uint64_t)pack->st_ino)
		rc = -ESTALE;
	if (rc) {
		close(c->fd);
		c->fd = -1;
	}
	return rc;
}

/* Finds a live mount of the store whose pack file is @pack: 0 or -ENOENT. */
static int find_store_mount(const char *store, const struct stat *pack,
			    struct candidate *c)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int rc = -ENOENT;

	if (!f)
		return -ENOENT;
	while (next_cowfs_mount(f, store, c->point, sizeof(c->point), NULL)) {
		int why = check_candidate(c, pack);

		if (why == 0) {
			rc = 0;
			break;
		}
		log_debug("\"%s\" is not a live mount of store \"%s\": %s",
			  c->point, store,
			  why == -ESTALE ? "its daemon serves another store"
					 : strerror(-why));
	}
	fclose(f);
	return rc;
}

/*
 * A live mount of @store (find_store_mount: c->fd open on success), and
 * what @mountpoint is now in @target: 0, or -errno with c->fd closed.
 */
static int live_store_mount(const char *store, const char *mountpoint,
			    struct candidate *c, struct stat *target)
{
	char pack_path[PATH_MAX + 16];
	struct stat pack;

	snprintf(pack_path, sizeof(pack_path), "%s/blocks", store);
	if (stat(pack_path, &pack) < 0 || stat(mountpoint, target) < 0)
		return -errno;
	return find_store_mount(store, &pack, c);
}

/* The MS_* flags of the mount at @path that a bind remount sets. */
static int mount_flags(const char *path, unsigned long *flags)
{
	struct statvfs vfs;

	if (statvfs(path, &vfs) < 0)
		return -errno;
	/* glibc's ST_* have the values of the MS_* flags. */
	*flags = vfs.f_flag & PER_MOUNT_FLAGS;
	return 0;
}

int bind_second_mount(const char *store, const char *mountpoint,
		      unsigned long flags, char *err, size_t errlen,
		      char *note, size_t notelen)
{
	struct candidate c = { .fd = -1 };
	char fdpath[64];
	struct stat target, root;
	unsigned long now = 0;
	int rc;

	err[0] = note[0] = '\0';
	if (geteuid() != 0)
		return 0;
	if (live_store_mount(store, mountpoint, &c, &target))
		return 0; /* the store's own checks will say why */

	/* (3) */
	if (fstat(c.fd, &root) == 0 && root.st_dev == target.st_dev &&
	    root.st_ino == target.st_ino) {
		snprintf(err, errlen, "store \"%s\" is already mounted on \"%s\"",
			 store, mountpoint);
		rc = -EBUSY;
		goto out;
	}
	if (c.id.flags & COWFS_STORE_READONLY) {
		if (!(flags & MS_RDONLY))
			snprintf(note, notelen,
				 "store \"%s\" is mounted read-only on \"%s\": \"%s\" is read-only too",
				 store, c.point, mountpoint);
		flags |= MS_RDONLY;
	}
	flags &= PER_MOUNT_FLAGS;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", c.fd);
	if (mount(fdpath, mountpoint, NULL, MS_BIND, NULL) < 0) {
		rc = -errno;
		snprintf(err, errlen,
			 "store \"%s\" is mounted on \"%s\": cannot mount it on \"%s\" as well: %s",
			 store, c.point, mountpoint, strerror(errno));
		goto out;
	}
	rc = mount_flags(mountpoint, &now);
	if (rc == 0 && now != flags &&
	    mount(NULL, mountpoint, NULL, MS_REMOUNT | MS_BIND | flags,
		  NULL) < 0)
		rc = -errno;
	if (rc) {
		snprintf(err, errlen,
			 "cannot set the mount flags of \"%s\" (a second mount point of store \"%s\"): %s",
			 mountpoint, store, strerror(-rc));
		if (umount2(mountpoint, MNT_DETACH) < 0)
			log_msg("cannot unmount \"%s\" again: %s", mountpoint,
				strerror(errno));
		goto out;
	}
	log_debug("\"%s\" is a second mount point of store \"%s\", a bind mount of \"%s\" (daemon pid %llu)",
		  mountpoint, store, c.point, (unsigned long long)c.id.pid);
	rc = 1;
out:
	close(c.fd);
	return rc;
}

int remount_store(const char *store, const char *mountpoint, bool readonly,
		  char *err, size_t errlen)
{
	struct candidate c = { .fd = -1 };
	struct stat target, root;
	unsigned long flags = 0;
	int rc;

	if (live_store_mount(store, mountpoint, &c, &target) ||
	    fstat(c.fd, &root) < 0 || root.st_dev != target.st_dev) {
		snprintf(err, errlen,
			 "cannot remount \"%s\": store \"%s\" is not mounted there",
			 mountpoint, store);
		rc = -EINVAL;
		goto out;
	}
	if (!readonly && (c.id.flags & COWFS_STORE_READONLY)) {
		snprintf(err, errlen,
			 "cannot remount \"%s\" read-write: store \"%s\" was mounted read-only (unmount it and mount it again without -o ro)",
			 mountpoint, store);
		rc = -EROFS;
		goto out;
	}
	/*
	 * Read-only: what the open transaction holds is committed first (an
	 * fsync of the root commits), as a local filesystem's journal is.
	 */
	if (readonly && fsync(c.fd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot remount \"%s\": commit: %s",
			 mountpoint, strerror(errno));
		goto out;
	}
	/* The mount point's other flags stay as they are. */
	rc = mount_flags(mountpoint, &flags);
	if (!rc && mount(NULL, mountpoint, NULL,
			 MS_REMOUNT | (flags & ~(unsigned long)MS_RDONLY) |
				 (readonly ? MS_RDONLY : 0),
			 NULL) < 0)
		rc = -errno;
	if (rc)
		snprintf(err, errlen, "cannot remount \"%s\": %s", mountpoint,
			 strerror(-rc));
out:
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}

/* Reads an unsigned number from the sysfs file @path: 0 or -errno. */
static int read_sysfs(const char *path, unsigned *v)
{
	FILE *f = fopen(path, "re");
	int rc = 0;

	if (!f)
		return -errno;
	if (fscanf(f, "%u", v) != 1)
		rc = -EINVAL;
	fclose(f);
	return rc;
}

unsigned host_readahead_kb(const char *path)
{
	char sys[96];
	struct stat sb;
	unsigned kb;

	if (stat(path, &sb) < 0)
		return 0;
	/* A whole disk has queue/; a partition's is its disk's. */
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/queue/read_ahead_kb",
		 major(sb.st_dev), minor(sb.st_dev));
	if (read_sysfs(sys, &kb) == 0)
		return kb;
	snprintf(sys, sizeof(sys),
		 "/sys/dev/block/%u:%u/../queue/read_ahead_kb",
		 major(sb.st_dev), minor(sb.st_dev));
	return read_sysfs(sys, &kb) == 0 ? kb : 0;
}

int mount_bdi(const char *store, const char *point, char *dev, size_t len)
{
	char p[PATH_MAX], d[32], found[32] = "";
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	/* The newest mount on @point is the last one listed. */
	while (next_cowfs_mount(f, store, p, sizeof(p), d))
		if (!strcmp(p, point))
			strcpy(found, d);
	fclose(f);
	if (!found[0])
		return -ENOENT;
	if (strlen(found) >= len)
		return -ENAMETOOLONG;
	strcpy(dev, found);
	return 0;
}

int bdi_set(const char *dev, const char *attr, unsigned value)
{
	char sys[96];
	int fd, rc = 0;

	snprintf(sys, sizeof(sys), "/sys/class/bdi/%s/%s", dev, attr);
	fd = open(sys, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%u\n", value) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	return rc;
}
