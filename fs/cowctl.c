/*
 * cowctl.c - instant clones and space accounting on a mounted cowfs.
 *
 *	cowctl clone [-f] SRC DST      clone one file, as cp -a would copy it
 *	cowctl snapshot SRC DST        clone a whole tree
 *	cowctl stat [-b] PATH...       logical, allocated, shared, exclusive
 *
 * A clone is copy_file_range(2) over the whole file: the daemon shares the
 * source's chunks and blocks instead of copying them, so it takes the same
 * time at any size. cowctl then copies what cp -a would: mode, owner,
 * times and extended attributes (ACLs among them). Everything goes through
 * the mount, so the kernel checks the caller's permissions as for any copy.
 *
 * Space figures come from the daemon through an ioctl (fs/cowfs_ioctl.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs/cowfs_ioctl.h"
#include "fs/util.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowctl clone [-f] SRC DST\n"
		"       cowctl snapshot SRC_DIR DST_DIR\n"
		"       cowctl stat [-b] PATH...\n"
		"       cowctl scrub [--progress|--no-progress] MOUNTPOINT\n"
		"\n"
		"Instant copies and space accounting on a mounted cowfs.\n"
		"\n"
		"  clone     clone the file SRC to DST (a new file, or a file in the\n"
		"            directory DST), keeping mode, owner, times and xattrs;\n"
		"            -f replaces an existing DST\n"
		"  snapshot  clone the tree SRC_DIR to DST_DIR (which must not exist):\n"
		"            files, directories, symlinks, hard links, special files,\n"
		"            owners, modes, times and xattrs\n"
		"  stat      print logical, allocated, shared and exclusive bytes of\n"
		"            files and trees, and the store's use; -b in bytes\n"
		"  scrub     read every checksummed block of the store mounted on\n"
		"            MOUNTPOINT and name the files whose data is damaged\n"
		"            (root only; exit 4 if any is)\n"
		"\n"
		"  -h, --help     print this help\n"
		"  -V, --version  print the version\n");
}

/* Is @fd on a cowfs mount? Fills @st (may be NULL) from the daemon. */
static int cowfs_stat_fd(int fd, struct cowfs_ioc_stat *st)
{
	struct cowfs_ioc_stat tmp;

	if (ioctl(fd, COWFS_IOC_STAT, st ? st : &tmp) < 0)
		return errno == ENOTTY || errno == EINVAL || errno == ENOSYS
			       ? -EXDEV
			       : -errno;
	return 0;
}

/* --- copying attributes, as cp -a does --- */

/* Copies the extended attributes of @src to @dst (paths, not following). */
static int copy_xattrs(const char *src, const char *dst)
{
	char *names = NULL, *value = NULL;
	ssize_t len, vlen;
	int rc = 0;

	len = llistxattr(src, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	names = malloc((size_t)len);
	value = malloc(65536);
	if (!names || !value) {
		rc = -ENOMEM;
		goto out;
	}
	len = llistxattr(src, names, (size_t)len);
	if (len < 0) {
		rc = -errno;
		goto out;
	}
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		vlen = lgetxattr(src, n, value, 65536);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;
			rc = -errno;
			break;
		}
		if (lsetxattr(dst, n, value, (size_t)vlen, 0) < 0) {
			/* trusted.* and security.* need privileges we may lack */
			if ((errno == EPERM || errno == EACCES) &&
			    strncmp(n, "user.", 5) && strncmp(n, "system.", 7))
				continue;
			rc = -errno;
			break;
		}
	}
out:
	free(names);
	free(value);
	return rc;
}

/*
 * Gives @dst (a path) the owner, mode, xattrs and times of @sb/@src.
 * Ownership that the caller may not give is skipped, as cp -a does.
 */
static int copy_attrs(const char *src, const char *dst, const struct stat *sb)
{
	struct timespec times[2] = { sb->st_atim, sb->st_mtim };
	int rc;

	if (lchown(dst, sb->st_uid, sb->st_gid) < 0 &&
	    !(errno == EPERM && geteuid() != 0))
		return -errno;
	rc = copy_xattrs(src, dst);
	if (rc)
		return rc;
	if (!S_ISLNK(sb->st_mode) && chmod(dst, sb->st_mode & 07777) < 0)
		return -errno;
	if (utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Clones all of @in into @out with copy_file_range. */
static int clone_fd(int in, int out, off_t size)
{
	loff_t off_in = 0, off_out = 0;

	while (off_in < size) {
		ssize_t n = copy_file_range(in, &off_in, out, &off_out,
					    (size_t)(size - off_in), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* the source shrank meanwhile */
	}
	return 0;
}

/*
 * Creates @dst as a clone of the regular file @src with status @sb.
 * @excl: fail if @dst exists.
 */
static int clone_file(const char *src, const char *dst, const struct stat *sb,
		      bool excl)
{
	int in, out, rc;

	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
				(excl ? O_EXCL : O_TRUNC),
		   0600);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	rc = clone_fd(in, out, sb->st_size);
	close(in);
	if (close(out) < 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = copy_attrs(src, dst, sb);
	return rc;
}

/* --- cowctl clone --- */

static int cmd_clone(int argc, char **argv)
{
	char dst[PATH_MAX], tmp[PATH_MAX + 32], *dir, *copy;
	struct stat sb, db;
	bool force = false;
	int c, fd, rc;

	while ((c = getopt(argc, argv, "f")) != -1) {
		if (c != 'f') {
			log_msg("clone: unknown option (see cowctl --help)");
			return EXIT_USAGE;
		}
		force = true;
	}
	if (argc - optind != 2) {
		log_msg("clone: needs SRC and DST (see cowctl --help)");
		return EXIT_USAGE;
	}
	const char *src = argv[optind];

	if (lstat(src, &sb) < 0) {
		log_msg("clone: \"%s\": %s", src, strerror(errno));
		return 1;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_msg("clone: \"%s\" is not a regular file", src);
		return 1;
	}
	snprintf(dst, sizeof(dst), "%s", argv[optind + 1]);
	if (stat(dst, &db) == 0 && S_ISDIR(db.st_mode)) {
		copy = strdup(src);
		if (!copy)
			return 1;
		snprintf(dst, sizeof(dst), "%s/%s", argv[optind + 1],
			 basename(copy));
		free(copy);
	}
	if (lstat(dst, &db) == 0) {
		if (!force) {
			log_msg("clone: \"%s\" exists (use -f to replace it)",
				dst);
			return 1;
		}
		if (db.st_ino == sb.st_ino && db.st_dev == sb.st_dev) {
			log_msg("clone: \"%s\" and \"%s\" are the same file",
				src, dst);
			return 1;
		}
	}
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || cowfs_stat_fd(fd, NULL) < 0) {
		log_msg("clone: \"%s\": %s", src,
			fd < 0 ? strerror(errno) : "not on a cowfs mount");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	copy = strdup(dst);
	if (!copy)
		return 1;
	dir = dirname(copy);
	if (stat(dir, &db) < 0) {
		log_msg("clone: \"%s\": %s", dir, strerror(errno));
		free(copy);
		return 1;
	}
	if (db.st_dev != sb.st_dev) {
		log_msg("clone: \"%s\" is not on the same cowfs mount as \"%s\"",
			dst, src);
		free(copy);
		return 1;
	}
	/* Clone under a temporary name, then rename: DST is never half made. */
	snprintf(tmp, sizeof(tmp), "%s/.cowctl-clone.%ld", dir, (long)getpid());
	free(copy);
	rc = clone_file(src, tmp, &sb, true);
	/* Without -f, a DST made meanwhile is not ours to replace. */
	if (!rc && renameat2(AT_FDCWD, tmp, AT_FDCWD, dst,
			     force ? 0 : RENAME_NOREPLACE) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		log_msg("clone: \"%s\" to \"%s\": %s", src, dst, strerror(-rc));
		return 1;
	}
	return 0;
}

/* --- cowctl snapshot --- */

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path; /* the first clone of this inode in the snapshot */
};

struct snap {
	void *links;		/* tsearch tree of struct link_seen */
	uint64_t files, dirs, others, links_made, bytes;
	struct timespec start, last_shown;
	bool progress;
	dev_t dev;
};

static int link_cmp(const void *a, const void *b)
{
	const struct link_seen *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static double elapsed(const struct timespec *from)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - from->tv_sec) +
	       (double)(now.tv_nsec - from->tv_nsec) / 1e9;
}

static void show_progress(struct snap *s, bool last)
{
	double t;

	if (!s->progress)
		return;
	if (!last && elapsed(&s->last_shown) < 0.2)
		return;
	clock_gettime(CLOCK_MONOTONIC, &s->last_shown);
	t = elapsed(&s->start);
	fprintf(stderr, "\rsnapshot: %llu files, %llu directories, %.0f files/s%s",
		(unsigned long long)s->files, (unsigned long long)s->dirs,
		t > 0 ? (double)s->files / t : 0.0, last ? "\n" : "");
}

static int snap_tree(struct snap *s, const char *src, const char *dst,
		     const struct stat *sb);

/* Clones one non-directory entry. */
static int snap_entry(struct snap *s, const char *src, const char *dst,
		      const struct stat *sb)
{
	char target[PATH_MAX + 1];
	ssize_t n;
	int rc;

	if (S_ISREG(sb->st_mode) && sb->st_nlink > 1) {
		struct link_seen key = { sb->st_dev, sb->st_ino, NULL }, *e;
		void *found = tfind(&key, &s->links, link_cmp);

		if (found) {
			e = *(struct link_seen **)found;
			if (link(e->path, dst) < 0)
				return -errno;
			s->links_made++;
			return 0;
		}
		e = malloc(sizeof(*e));
		if (!e || !(e->path = strdup(dst))) {
			free(e);
			return -ENOMEM;
		}
		e->dev = sb->st_dev;
		e->ino = sb->st_ino;
		if (!tsearch(e, &s->links, link_cmp))
			return -ENOMEM;
	}
	if (S_ISREG(sb->st_mode)) {
		rc = clone_file(src, dst, sb, true);
		s->files++;
		s->bytes += (uint64_t)sb->st_size;
		return rc;
	}
	if (S_ISLNK(sb->st_mode)) {
		n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlink(target, dst) < 0)
			return -errno;
	} else if (mknod(dst, sb->st_mode & (S_IFMT | 0600), sb->st_rdev) < 0) {
		return -errno;
	}
	s->others++;
	return copy_attrs(src, dst, sb);
}

static int snap_tree(struct snap *s, const char *src, const char *dst,
		     const struct stat *sb)
{
	char spath[PATH_MAX], dpath[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (mkdir(dst, 0700) < 0)
		return -errno;
	s->dirs++;
	d = opendir(src);
	if (!d)
		return -errno;
	while (!rc && (errno = 0, de = readdir(d))) {
		struct stat cb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(spath, sizeof(spath), "%s/%s", src, de->d_name) >=
			    (int)sizeof(spath) ||
		    snprintf(dpath, sizeof(dpath), "%s/%s", dst, de->d_name) >=
			    (int)sizeof(dpath)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (lstat(spath, &cb) < 0) {
			rc = -errno;
			break;
		}
		if (cb.st_dev != s->dev) {
			fprintf(stderr, "cowctl: snapshot: skipping \"%s\": another filesystem is mounted there\n",
				spath);
			continue;
		}
		if (S_ISDIR(cb.st_mode))
			rc = snap_tree(s, spath, dpath, &cb);
		else
			rc = snap_entry(s, spath, dpath, &cb);
		if (rc) {
			/* Name the deepest path that failed, once. */
			if (rc != -ECANCELED)
				fprintf(stderr, "%scowctl: snapshot: \"%s\": %s\n",
					s->progress ? "\n" : "", spath,
					strerror(-rc));
			rc = -ECANCELED;
		}
		show_progress(s, false);
	}
	if (!rc && errno)
		rc = -errno;
	closedir(d);
	/* The directory's own attributes last: its children changed it. */
	if (!rc)
		rc = copy_attrs(src, dst, sb);
	return rc;
}

static void free_link(void *p)
{
	struct link_seen *e = p;

	free(e->path);
	free(e);
}

static int cmd_snapshot(int argc, char **argv)
{
	struct snap s = { 0 };
	struct stat sb, db;
	char *copy, *parent;
	double t;
	int fd, rc;

	if (argc != 3) {
		log_msg("snapshot: needs SRC_DIR and DST_DIR (see cowctl --help)");
		return EXIT_USAGE;
	}
	if (stat(argv[1], &sb) < 0) {
		log_msg("snapshot: \"%s\": %s", argv[1], strerror(errno));
		return 1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_msg("snapshot: \"%s\": not a directory", argv[1]);
		return 1;
	}
	if (lstat(argv[2], &db) == 0) {
		log_msg("snapshot: \"%s\" exists", argv[2]);
		return 1;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || cowfs_stat_fd(fd, NULL) < 0) {
		log_msg("snapshot: \"%s\": %s", argv[1],
			fd < 0 ? strerror(errno) : "not on a cowfs mount");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	copy = strdup(argv[2]);
	if (!copy)
		return 1;
	parent = dirname(copy);
	if (stat(parent, &db) < 0 || db.st_dev != sb.st_dev) {
		log_msg("snapshot: \"%s\" is not on the same cowfs mount as \"%s\"",
			argv[2], argv[1]);
		free(copy);
		return 1;
	}
	free(copy);
	s.dev = sb.st_dev;
	s.progress = isatty(2);
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	rc = snap_tree(&s, argv[1], argv[2], &sb);
	show_progress(&s, true);
	tdestroy(s.links, free_link);
	if (rc) {
		if (rc != -ECANCELED)
			log_msg("snapshot: \"%s\": %s", argv[1], strerror(-rc));
		log_msg("snapshot: stopped; \"%s\" is incomplete", argv[2]);
		return 1;
	}
	t = elapsed(&s.start);
	printf("snapshot: %llu files (%llu bytes), %llu directories, %llu hard links, %llu others in %.2f s (%.0f files/s)\n",
	       (unsigned long long)s.files, (unsigned long long)s.bytes,
	       (unsigned long long)s.dirs, (unsigned long long)s.links_made,
	       (unsigned long long)s.others, t,
	       t > 0 ? (double)s.files / t : 0.0);
	return 0;
}

/* --- cowctl stat --- */

struct usage {
	uint64_t files, size, allocated, shared;
	uint64_t store_used, block_size;
	struct cowfs_ioc_stat mount;	/* the mount's data path counters */
	void *seen; /* inodes with several links already counted */
};

static int usage_file(struct usage *u, const char *path, const struct stat *sb)
{
	struct cowfs_ioc_stat st;
	int fd, rc;

	if (sb->st_nlink > 1) {
		struct link_seen *e = malloc(sizeof(*e));
		void *r;

		if (!e)
			return -ENOMEM;
		e->dev = sb->st_dev;
		e->ino = sb->st_ino;
		e->path = NULL;
		r = tsearch(e, &u->seen, link_cmp);
		if (!r)
			return -ENOMEM;
		if (*(struct link_seen **)r != e) {
			free(e);
			return 0; /* counted under another name */
		}
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = cowfs_stat_fd(fd, &st);
	close(fd);
	if (rc)
		return rc;
	u->files++;
	u->size += st.size;
	u->allocated += st.allocated;
	u->shared += st.shared;
	u->store_used = st.store_used;
	u->block_size = st.block_size;
	return 0;
}

static int usage_tree(struct usage *u, const char *path, dev_t dev)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(path);
	int rc = 0;

	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		struct stat cb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (lstat(child, &cb) < 0 || cb.st_dev != dev)
			continue;
		if (S_ISDIR(cb.st_mode))
			rc = usage_tree(u, child, dev);
		else if (S_ISREG(cb.st_mode))
			rc = usage_file(u, child, &cb);
		if (rc)
			log_msg("stat: \"%s\": %s", child, strerror(-rc));
	}
	closedir(d);
	return rc;
}

static void print_size(const char *label, uint64_t v, bool bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB" };
	double d = (double)v;
	size_t u = 0;

	if (bytes) {
		printf("  %-11s %llu\n", label, (unsigned long long)v);
		return;
	}
	while (d >= 1024 && u < ARRAY_SIZE(units) - 1) {
		d /= 1024;
		u++;
	}
	printf("  %-11s %.1f %s (%llu bytes)\n", label, d, units[u],
	       (unsigned long long)v);
}

static int cmd_stat(int argc, char **argv)
{
	bool bytes = false;
	int c, status = 0;

	while ((c = getopt(argc, argv, "b")) != -1) {
		if (c != 'b') {
			log_msg("stat: unknown option (see cowctl --help)");
			return EXIT_USAGE;
		}
		bytes = true;
	}
	if (optind >= argc) {
		log_msg("stat: needs a PATH (see cowctl --help)");
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		struct usage u = { 0 };
		struct cowfs_ioc_stat st;
		struct stat sb;
		int fd, rc;

		if (lstat(argv[i], &sb) < 0) {
			log_msg("stat: \"%s\": %s", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		fd = open(argv[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		rc = fd < 0 ? -errno : cowfs_stat_fd(fd, &st);
		if (fd >= 0)
			close(fd);
		if (rc) {
			log_msg("stat: \"%s\": %s", argv[i],
				rc == -EXDEV ? "not on a cowfs mount"
					     : strerror(-rc));
			status = 1;
			continue;
		}
		u.store_used = st.store_used;
		u.block_size = st.block_size;
		u.mount = st;
		if (S_ISDIR(sb.st_mode))
			rc = usage_tree(&u, argv[i], sb.st_dev);
		else
			rc = usage_file(&u, argv[i], &sb);
		tdestroy(u.seen, free);
		if (rc)
			status = 1;
		printf("%s: %llu file%s\n", argv[i],
		       (unsigned long long)u.files, u.files == 1 ? "" : "s");
		print_size("logical", u.size, bytes);
		print_size("allocated", u.allocated, bytes);
		print_size("shared", u.shared, bytes);
		print_size("exclusive", u.allocated - u.shared, bytes);
		print_size("store used", u.store_used, bytes);
		print_size("to checksum", u.mount.unsummed, bytes);
		printf("  data path since mount: read %llu spliced, %llu copied;"
		       " written %llu spliced, %llu copied\n",
		       (unsigned long long)u.mount.read_spliced,
		       (unsigned long long)u.mount.read_copied,
		       (unsigned long long)u.mount.write_spliced,
		       (unsigned long long)u.mount.write_copied);
	}
	return status;
}

/* --- scrub --- */

#define EXIT_DAMAGED 4

static void scrub_progress(const struct cowfs_ioc_scrub *sc, uint64_t checked,
			   const struct timespec *start, bool last)
{
	uint64_t total = sc->store_slots - MIN(sc->unsummed, sc->store_slots);
	double mib = (double)(checked * sc->block_size) / (1 << 20);
	double t = elapsed(start);

	fprintf(stderr, "\rscrub: %.0f MiB checked (%.0f%%), %.0f MiB/s%s", mib,
		total ? 100.0 * (double)MIN(checked, total) / (double)total
		      : 100.0,
		t > 0 ? mib / t : 0.0, last ? "\n" : "");
}

/*
 * Prints one damaged block: the file (@mnt, without a trailing slash, and
 * the path the daemon gives from the mount's root) and the bytes it covers.
 */
static void scrub_report(int fd, const char *mnt, const struct cowfs_scrub_bad *b,
			 uint64_t bs, bool progress)
{
	struct cowfs_ioc_path *p = calloc(1, sizeof(*p));

	if (progress)
		fputc('\n', stderr);
	if (b->ino == 0 || !p) {
		printf("slot %llu: damaged data, in no file\n",
		       (unsigned long long)b->slot);
		free(p);
		return;
	}
	p->ino = b->ino;
	if (ioctl(fd, COWFS_IOC_PATH, p) == 0)
		printf("%s%s", mnt, p->path);
	else
		printf("%s: inode %llu (%s)", mnt, (unsigned long long)b->ino,
		       errno == ENOENT ? "unlinked" : strerror(errno));
	printf(": damaged data at bytes %llu-%llu (slot %llu)\n",
	       (unsigned long long)b->offset,
	       (unsigned long long)(b->offset + bs - 1),
	       (unsigned long long)b->slot);
	fflush(stdout);
	free(p);
}

static int cmd_scrub(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 }
	};
	struct cowfs_ioc_scrub *sc;
	uint64_t checked = 0, damaged = 0;
	struct timespec start, shown;
	bool progress = isatty(2);
	char mnt[PATH_MAX];
	int c, fd, status = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'P' || c == 'Q') {
			progress = c == 'P';
			continue;
		}
		log_msg("scrub: unknown option \"%s\" (see cowctl --help)",
			argv[optind - 1]);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		log_msg("scrub: needs one MOUNTPOINT (see cowctl --help)");
		return EXIT_USAGE;
	}
	snprintf(mnt, sizeof(mnt), "%s", argv[optind]);
	while (strlen(mnt) > 1 && mnt[strlen(mnt) - 1] == '/')
		mnt[strlen(mnt) - 1] = '\0';
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_msg("scrub: \"%s\": %s", mnt, strerror(errno));
		return 1;
	}
	if (cowfs_stat_fd(fd, NULL)) {
		log_msg("scrub: \"%s\" is not a cowfs mount", mnt);
		close(fd);
		return 1;
	}
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		log_msg("scrub: out of memory");
		close(fd);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	shown = start;
	do {
		sc->max_bytes = 64 << 20;
		if (ioctl(fd, COWFS_IOC_SCRUB, sc) < 0) {
			if (progress)
				fputc('\n', stderr);
			log_msg("scrub: \"%s\": %s", mnt,
				errno == EPERM ? "only root may scrub"
					       : strerror(errno));
			status = 1;
			break;
		}
		checked += sc->checked;
		for (uint64_t i = 0; i < sc->nbad; i++)
			scrub_report(fd, strcmp(mnt, "/") ? mnt : "", &sc->bad[i],
				     sc->block_size, progress);
		/* A damaged slot in several files is one damaged block. */
		for (uint64_t i = 0; i < sc->nbad; i++)
			damaged += i == 0 || sc->bad[i].slot != sc->bad[i - 1].slot;
		if (sc->more_bad)
			printf("... and %llu more damaged file blocks\n",
			       (unsigned long long)sc->more_bad);
		if (progress && elapsed(&shown) >= 0.2) {
			scrub_progress(sc, checked, &start, false);
			clock_gettime(CLOCK_MONOTONIC, &shown);
		}
		sc->start = sc->next;
	} while (sc->next);
	if (progress && !status)
		scrub_progress(sc, checked, &start, true);
	if (!status) {
		printf("scrub: %llu blocks (%llu MiB) checked in %.1f s, %llu damaged, %llu not checksummed yet\n",
		       (unsigned long long)checked,
		       (unsigned long long)((checked * sc->block_size) >> 20),
		       elapsed(&start), (unsigned long long)damaged,
		       (unsigned long long)sc->unsummed);
		if (damaged)
			status = EXIT_DAMAGED;
	}
	free(sc);
	close(fd);
	return status;
}

int main(int argc, char **argv)
{
	util_progname = "cowctl";
	opterr = 0; /* our own one-line messages for bad options */
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("cowctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "clone"))
		return cmd_clone(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stat"))
		return cmd_stat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "scrub"))
		return cmd_scrub(argc - 1, argv + 1);
	log_msg("unknown command \"%s\" (see cowctl --help)", argv[1]);
	return EXIT_USAGE;
}
