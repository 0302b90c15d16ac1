/*
 * main.c - the cowfs daemon: parses the command line, opens the store,
 * mounts and serves until unmounted.
 *
 *	cowfs STORE MOUNTPOINT [-f] [-d] [-s] [-o opt,...]
 *
 * It is also what `mount -t fuse.cowfs STORE MNT -o ...` runs (through
 * mount.fuse3), so /etc/fstab works.
 *
 * Without -f the daemon goes to the background only once the store is open
 * and the mount is up: the process that was started waits for a word from
 * its child and exits 0, or prints the child's error and exits 1. So a
 * script that runs `cowfs STORE MNT` can rely on the exit status and use
 * MNT at once.
 *
 * A store that a cowfs daemon serves already is not opened again: for
 * root, MNT becomes a second mount point of it (a bind mount of the first,
 * served by the same daemon; fs/bind.c) and cowfs exits 0 at once, with or
 * without -f; for other users the store's lock refuses it.
 */
#include "config.h"

#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "fs/bind.h"
#include "fs/fs.h"
#include "fs/loop.h"
#include "fs/ops.h"
#include "fs/util.h"

#define READY_BYTE 0x06

struct cmdline {
	char *store;
	char *mountpoint;
	unsigned commit;
	unsigned sum_delay;
	char *readahead;	/* KiB; NULL: as the store's disk */
	char *max_write;	/* NULL: COWFS_MAX_WRITE */
	unsigned max_dirty;	/* percent of the kernel's dirty limit */
	unsigned max_background;
	unsigned congestion;	/* UINT_MAX: 3/4 of max_background */
	double attr_timeout, entry_timeout;
	int no_keep_cache;
	int nosplice;
	int no_writeback;
	int verify;
	int help;
	int version;
	int extra;	/* a third non-option argument */
	int readonly;	/* -o ro (the last of ro and rw wins) */
	int remount;	/* -o remount: change a mount, start nothing */
	unsigned long mntflags; /* per-mount MS_* flags asked, but MS_RDONLY */
};

/* Options seen here and passed on to libfuse as well. */
enum { KEY_RO = 1, KEY_RW, KEY_MNT_FLAG };

/*
 * libfuse's options that set a flag of the mount point rather than of the
 * filesystem: a second mount point of a mounted store (fs/bind.c) sets
 * them itself.
 */
static const struct mnt_flag_opt {
	const char *name;
	unsigned long flag;
	bool set;
} mnt_flag_opts[] = {
	{ "suid", MS_NOSUID, false },	{ "nosuid", MS_NOSUID, true },
	{ "dev", MS_NODEV, false },	{ "nodev", MS_NODEV, true },
	{ "exec", MS_NOEXEC, false },	{ "noexec", MS_NOEXEC, true },
	{ "noatime", MS_NOATIME, true }, { "nodiratime", MS_NODIRATIME, true },
};

/* The entry of mnt_flag_opts for the option @arg, or NULL. */
static const struct mnt_flag_opt *mnt_flag_opt(const char *arg)
{
	for (size_t i = 0; i < ARRAY_SIZE(mnt_flag_opts); i++)
		if (!strcmp(arg, mnt_flag_opts[i].name))
			return &mnt_flag_opts[i];
	return NULL;
}

#define OPT(t, p, v) { t, offsetof(struct cmdline, p), v }
static const struct fuse_opt cowfs_opts[] = {
	OPT("commit=%u", commit, 0),
	OPT("sum_delay=%u", sum_delay, 0),
	OPT("readahead=%s", readahead, 0),
	OPT("max_write=%s", max_write, 0),
	OPT("max_dirty=%u", max_dirty, 0),
	OPT("max_background=%u", max_background, 0),
	OPT("congestion_threshold=%u", congestion, 0),
	OPT("attr_timeout=%lf", attr_timeout, 0),
	OPT("entry_timeout=%lf", entry_timeout, 0),
	OPT("keep_cache", no_keep_cache, 0),
	OPT("no_keep_cache", no_keep_cache, 1),
	OPT("nosplice", nosplice, 1),
	OPT("writeback_cache", no_writeback, 0),
	OPT("no_writeback_cache", no_writeback, 1),
	OPT("verify", verify, 1),
	OPT("remount", remount, 1),
	OPT("-h", help, 1),
	OPT("--help", help, 1),
	OPT("-V", version, 1),
	OPT("--version", version, 1),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("suid", KEY_MNT_FLAG),
	FUSE_OPT_KEY("nosuid", KEY_MNT_FLAG),
	FUSE_OPT_KEY("dev", KEY_MNT_FLAG),
	FUSE_OPT_KEY("nodev", KEY_MNT_FLAG),
	FUSE_OPT_KEY("exec", KEY_MNT_FLAG),
	FUSE_OPT_KEY("noexec", KEY_MNT_FLAG),
	FUSE_OPT_KEY("noatime", KEY_MNT_FLAG),
	FUSE_OPT_KEY("nodiratime", KEY_MNT_FLAG),
	FUSE_OPT_END
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowfs STORE MOUNTPOINT [-f] [-d] [-s] [-o opt,...]\n"
		"\n"
		"Mounts the cowfs store STORE (made by mkfs.cowfs) on MOUNTPOINT.\n"
		"Unmount with: fusermount3 -u MOUNTPOINT\n"
		"\n"
		"options:\n"
		"  -f                     stay in the foreground\n"
		"  -d, -o debug           log every request (implies -f)\n"
		"  -s                     serve requests in one thread\n"
		"  -o commit=SECONDS      commit metadata at least this often (default 5)\n"
		"  -o sum_delay=SECONDS   checksum a block once it has not been written\n"
		"                         for this long (default 10)\n"
		"  -o readahead=KIB       how far the kernel reads ahead in a file (default:\n"
		"                         as on the store's disk, at least 1024)\n"
		"  -o nosplice            move data through memory instead of splice\n"
		"  -o no_writeback_cache  send every write to the daemon at once\n"
		"  -o verify              check every read against the block checksums\n"
		"                         (EIO on a mismatch; costs a second read)\n"
		"  -o allow_other         let other users use the mount\n"
		"  -o ro                  mount read-only (a read-only store needs it)\n"
		"  -o remount,ro|rw       make a mounted store read-only or read-write\n"
		"                         again (what `mount -o remount,ro MNT` runs)\n"
		"  -h, --help             print this help\n"
		"  -V, --version          print the version\n"
		"\ntuning (cowfs(8) says what each does):\n"
		"  -o max_write=SIZE      largest write request (default 1M - 4K, in whole\n"
		"                         blocks)\n"
		"  -o max_background=N    requests the kernel sends without waiting\n"
		"                         (default 64)\n"
		"  -o congestion_threshold=N  (default 3/4 of max_background)\n"
		"  -o attr_timeout=SECONDS, -o entry_timeout=SECONDS\n"
		"                         how long the kernel trusts what it was told\n"
		"                         (default 3600)\n"
		"  -o no_keep_cache       drop a file's cached pages at every open\n"
		"  -o max_dirty=PERCENT   share of the kernel's dirty page limit the\n"
		"                         mount's cached writes may take (default 20)\n");
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cmdline *c = data;

	if (key == KEY_RO || key == KEY_RW) {
		/* The kernel mounts read-only; we open the store so. */
		c->readonly = key == KEY_RO;
		return 1;
	}
	if (key == KEY_MNT_FLAG) {
		const struct mnt_flag_opt *m = mnt_flag_opt(arg);

		if (m && m->set)
			c->mntflags |= m->flag;
		else if (m)
			c->mntflags &= ~m->flag;
		return 1;
	}
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (!c->store) {
		c->store = strdup(arg);
		return 0;
	}
	if (!c->mountpoint) {
		c->mountpoint = strdup(arg);
		return 1; /* fuse_parse_cmdline takes it too */
	}
	c->extra = 1;
	return 0;
}

/*
 * What else `-o remount` may be given: mount(8) and mount.fuse3 pass the
 * mount's options again (the kernel's, libfuse's, the generic flags and
 * fstab's), and libfuse's own command line options may come from fstab
 * too. They are left as they are; anything else is refused. Not listed
 * here, and let pass by remount_proc: ro, rw and mnt_flag_opts (which
 * cowfs_opts knows already) and x-* (fstab's notes to other programs).
 */
static const struct fuse_opt remount_opts[] = {
	FUSE_OPT_KEY("fd=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("rootmode=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user_id=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("group_id=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("default_permissions", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("allow_other", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("allow_root", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto_unmount", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("max_read=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("blksize=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("blkdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("fsname=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("subtype=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("context=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("fscontext=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defcontext=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("rootcontext=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("async", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("sync", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("dirsync", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("atime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("diratime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("relatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("norelatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("strictatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nostrictatime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("lazytime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nolazytime", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("symfollow", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nosymfollow", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("owner", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("group", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("comment=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("debug", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-d", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-f", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("-s", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("clone_fd", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("max_idle_threads=", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

/* The first option not known for a remount, into @data (a char **). */
static int remount_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	char **unknown = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_OPT && !*unknown && strncmp(arg, "x-", 2) &&
	    strcmp(arg, "ro") && strcmp(arg, "rw") && !mnt_flag_opt(arg))
		*unknown = strdup(arg);
	return 0;
}

/*
 * -o remount: 0 when @args holds only options known for a remount
 * (remount_opts, remount_proc); else says which and returns -EINVAL.
 */
static int remount_check(struct fuse_args *args)
{
	char *unknown = NULL;
	int rc = 0;

	if (fuse_opt_parse(args, &unknown, remount_opts, remount_proc) < 0)
		return -EINVAL;
	if (unknown) {
		log_msg("unknown option for remount: %s (see cowfs --help)",
			unknown);
		rc = -EINVAL;
	}
	free(unknown);
	return rc;
}

/*
 * libfuse's messages ("fuse: unknown option(s): ...") become ours, with
 * the same one-line form: "cowfs: unknown option(s): ...".
 */
static void log_fuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	/* libfuse writes some messages in pieces: collect up to the newline. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char line[1024];
	static size_t len;
	const char *msg = line;

	if (level > FUSE_LOG_NOTICE && !util_debug)
		return;
	pthread_mutex_lock(&lock);
	vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	len = strlen(line);
	if (len == 0 || (line[len - 1] != '\n' && len < sizeof(line) - 1)) {
		pthread_mutex_unlock(&lock);
		return;
	}
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (!strncmp(msg, "fuse: ", 6))
		msg += 6;
	if (level > FUSE_LOG_NOTICE)
		log_debug_msg("%s", msg);
	else
		log_msg("%s", msg);
	len = 0;
	line[0] = '\0';
	pthread_mutex_unlock(&lock);
}

/*
 * Forks; the parent waits until the child says the mount is up (exit 0)
 * or dies (its messages have gone to our stderr; exit with its status).
 * Returns in the child, with @ready_fd to write READY_BYTE to.
 */
static int background(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char c;
	ssize_t n;

	if (pipe(p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		*ready_fd = p[1];
		setsid();
		return 0;
	}
	close(p[1]);
	while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 1 && c == READY_BYTE)
		_exit(0);
	for (;;) {
		int status;

		if (waitpid(pid, &status, 0) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
}

/* The child is serving: detach from the terminal and release the parent. */
static void detach(int ready_fd)
{
	int null = open("/dev/null", O_RDWR);
	char c = READY_BYTE;

	if (chdir("/") < 0)
		log_debug("chdir /: %s", strerror(errno));
	log_to_syslog();
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (write(ready_fd, &c, 1) != 1)
		log_msg("cannot tell the starting process that the mount is up");
	close(ready_fd);
}

static int add_opt(struct fuse_args *args, const char *fmt, const char *v)
{
	char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), fmt, v);
	return fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, buf);
}

#define READAHEAD_MAX_KB 65536u

struct mount_ready {
	const char *store;
	char point[PATH_MAX];	/* the mount point's real path */
	unsigned readahead;	/* KiB */
	unsigned max_dirty;	/* percent */
	int ready_fd;		/* -1 in the foreground */
};

/*
 * Runs once the kernel has the daemon's answer to INIT (a statfs of the
 * mount point returns only then): sets the mount's readahead, which that
 * answer would have lowered again, and its share of the dirty page
 * limit, and only then lets the starting process exit, so that `cowfs
 * STORE MNT` returns with the mount serving. The kernel starts a FUSE
 * mount at 128 KiB of readahead, so a cold sequential read kept one 1 MiB
 * request in flight where the host filesystem read ahead 8 MiB, and at 1%
 * of the dirty limit (about 47 MiB on the test machine), so a random
 * writer waited for write-back where ext4 took its writes into memory
 * (doc/DESIGN.md 4). Only root may set them; others keep the kernel's.
 */
static void *mount_ready_thread(void *arg)
{
	struct mount_ready *mr = arg;
	struct statvfs v;
	char dev[32];
	int rc;

	if (statvfs(mr->point, &v) == 0) {
		rc = mount_bdi(mr->store, mr->point, dev, sizeof(dev));
		if (rc)
			log_debug("readahead and dirty share of \"%s\" left as they are: %s",
				  mr->point, strerror(-rc));
	} else {
		rc = -errno;
	}
	if (rc == 0) {
		rc = bdi_set(dev, "read_ahead_kb", mr->readahead);
		if (rc)
			log_debug("readahead of \"%s\" left as it is: %s",
				  mr->point, strerror(-rc));
		rc = bdi_set(dev, "max_ratio", mr->max_dirty);
		if (rc)
			log_debug("dirty share of \"%s\" left as it is: %s",
				  mr->point, strerror(-rc));
	}
	if (mr->ready_fd >= 0)
		detach(mr->ready_fd);
	return NULL;
}

/* Starts mount_ready_thread(), or does without it. */
static void start_mount_ready(struct mount_ready *mr)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc = pthread_attr_init(&attr);

	if (!rc) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, mount_ready_thread, mr);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		log_debug("no thread to set the readahead: %s", strerror(rc));
		if (mr->ready_fd >= 0)
			detach(mr->ready_fd);
	}
}

/* fsname=... may not contain a comma unescaped: refuse such paths. */
static bool safe_fsname(const char *s)
{
	return !strchr(s, ',') && !strchr(s, '\\');
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	/*
	 * The daemon is the only writer of the store: the kernel may keep
	 * what it was told for long.
	 */
	struct cmdline c = { .commit = 5, .sum_delay = 10,
			     .max_background = COWFS_MAX_BACKGROUND,
			     .congestion = UINT_MAX,
			     .max_dirty = 20,
			     .attr_timeout = 3600, .entry_timeout = 3600 };
	uint64_t max_write = 0;
	struct fuse_cmdline_opts fo = { 0 };
	struct loop_options lo = { 0 };
	sigset_t sigs;
	struct fuse_session *se = NULL;
	struct fs_options o = { 0 };
	struct fs *fs = NULL;
	char store[PATH_MAX], err[3 * PATH_MAX], first[512];
	char note[3 * PATH_MAX];
	struct stat sb = { 0 };
	struct mount_ready mr = { .ready_fd = -1 };
	int ready_fd = -1, rc, ret = 1;

	util_progname = "cowfs";
	fuse_set_log_func(log_fuse);
	c.mntflags = BIND_MOUNT_FLAGS_DEFAULT;
	if (fuse_opt_parse(&args, &c, cowfs_opts, opt_proc) < 0)
		goto out_args;
	if (c.help || c.version) {
		if (c.help)
			usage(stdout);
		else
			printf("cowfs %s (store format %d, libfuse %s)\n",
			       PACKAGE_VERSION, META_FORMAT_VERSION,
			       fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (!c.store || !c.mountpoint || c.extra) {
		log_msg(c.extra ? "too many arguments (see cowfs --help)"
				: "usage: cowfs STORE MOUNTPOINT [-f] [-o opt,...] (see --help)");
		goto out_args;
	}
	if (c.remount) {
		/*
		 * mount(8) passes the mount's other options again (relatime,
		 * user_id=...); they are the mount's already and are left.
		 */
		if (remount_check(&args) < 0)
			goto out_args;
		if (!realpath(c.store, store)) {
			log_msg("store \"%s\": %s", c.store, strerror(errno));
			goto out_args;
		}
		if (remount_store(store, c.mountpoint, c.readonly, err,
				  sizeof(err)) < 0) {
			log_msg("%s", err);
			goto out_args;
		}
		ret = 0;
		goto out_args;
	}
	if (c.commit < 1 || c.commit > 86400) {
		log_msg("commit=%u: must be 1 to 86400 seconds", c.commit);
		goto out_args;
	}
	if (c.sum_delay > HOT_AGE_MAX) {
		log_msg("sum_delay=%u: must be 0 to %u seconds", c.sum_delay,
			HOT_AGE_MAX);
		goto out_args;
	}
	if (c.readahead) {
		size_t n = strspn(c.readahead, "0123456789");
		unsigned long kb = n > 0 && n <= 5 && !c.readahead[n]
					   ? strtoul(c.readahead, NULL, 10)
					   : ULONG_MAX;

		if (kb > READAHEAD_MAX_KB) {
			log_msg("readahead=%s: must be 0 to %u KiB",
				c.readahead, READAHEAD_MAX_KB);
			goto out_args;
		}
		mr.readahead = (unsigned)kb;
	}
	if (c.max_write &&
	    (parse_size(c.max_write, &max_write) || max_write < 4096 ||
	     max_write > COWFS_MAX_WRITE)) {
		log_msg("max_write=%s: must be 4K to %uK", c.max_write,
			COWFS_MAX_WRITE >> 10);
		goto out_args;
	}
	if (c.max_dirty < 1 || c.max_dirty > 100) {
		log_msg("max_dirty=%u: must be 1 to 100 percent", c.max_dirty);
		goto out_args;
	}
	mr.max_dirty = c.max_dirty;
	if (c.max_background < 1 || c.max_background > 65535) {
		log_msg("max_background=%u: must be 1 to 65535",
			c.max_background);
		goto out_args;
	}
	if (c.congestion != UINT_MAX &&
	    (c.congestion < 1 || c.congestion > c.max_background)) {
		log_msg("congestion_threshold=%u: must be 1 to max_background "
			"(%u)", c.congestion, c.max_background);
		goto out_args;
	}
	if (!(c.attr_timeout >= 0 && c.attr_timeout <= 1e9)) {
		log_msg("attr_timeout=%g: must be 0 to 1e9 seconds",
			c.attr_timeout);
		goto out_args;
	}
	if (!(c.entry_timeout >= 0 && c.entry_timeout <= 1e9)) {
		log_msg("entry_timeout=%g: must be 0 to 1e9 seconds",
			c.entry_timeout);
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto out_args;
	util_debug = fo.debug;
	if (stat(fo.mountpoint, &sb) < 0) {
		log_msg("mount point \"%s\": %s", fo.mountpoint,
			strerror(errno));
		goto out_args;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_msg("mount point \"%s\": not a directory", fo.mountpoint);
		goto out_args;
	}
	if (!realpath(c.store, store)) {
		log_msg("store \"%s\": %s", c.store, strerror(errno));
		goto out_args;
	}
	/* Now: once mounted, a stat of the mount point waits for the loop. */
	if (!realpath(fo.mountpoint, mr.point)) {
		log_msg("mount point \"%s\": %s", fo.mountpoint,
			strerror(errno));
		goto out_args;
	}
	mr.store = store;
	if (!c.readahead)
		mr.readahead = MIN(MAX(host_readahead_kb(store), 1024u),
				   READAHEAD_MAX_KB);
	if (!safe_fsname(store)) {
		log_msg("store \"%s\": a path with ',' or '\\' cannot be mounted",
			store);
		goto out_args;
	}
	if (add_opt(&args, "fsname=%s", store) ||
	    add_opt(&args, "subtype=%s", "cowfs") ||
	    add_opt(&args, "%s", "default_permissions")) {
		log_msg("out of memory");
		goto out_args;
	}
	o.commit_interval = c.commit;
	o.sum_delay = c.sum_delay;
	o.nosplice = c.nosplice;
	o.writeback = !c.no_writeback;
	o.verify = c.verify;
	o.debug = fo.debug;
	o.readonly = c.readonly;
	o.max_write = (uint32_t)max_write;
	o.max_background = c.max_background;
	o.congestion = c.congestion == UINT_MAX ? 0 : c.congestion;
	o.attr_timeout = c.attr_timeout;
	o.entry_timeout = c.entry_timeout;
	o.no_keep_cache = c.no_keep_cache;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		log_msg("out of memory");
		goto out_args;
	}
	/* Checks the remaining options before anything is touched. */
	se = fuse_session_new(&args, &cowfs_ops, sizeof(cowfs_ops), fs);
	if (!se)
		goto out_args; /* libfuse said why */

	/* Mounted already: a second mount point, and no daemon (bind.c). */
	rc = bind_second_mount(store, fo.mountpoint,
			       c.mntflags | (c.readonly ? MS_RDONLY : 0), err,
			       sizeof(err), note, sizeof(note));
	if (rc) {
		if (rc < 0 || note[0])
			log_msg("%s", rc < 0 ? err : note);
		ret = rc < 0;
		goto out_session;
	}

	if (!fo.foreground) {
		rc = background(&ready_fd);
		if (rc) {
			log_msg("cannot go to the background: %s",
				strerror(-rc));
			goto out_session;
		}
	}
	/* A store that cannot be opened is refused in one line. */
	log_hold();
	rc = fs_init(fs, store, &o, err, sizeof(err));
	log_release(rc == 0, first, sizeof(first));
	if (rc) {
		if (rc == -EIO && first[0] && !strstr(err, first))
			log_msg("%s (%s)", err, first);
		else
			log_msg("%s", err);
		goto out_session;
	}
	fs->se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_fs;
	if (fuse_session_mount(se, fo.mountpoint) != 0)
		goto out_signals; /* libfuse said why */
	if (loop_take_io(se) != 0)
		goto out_unmount; /* libfuse said why */
	/* The signals that end the daemon go to the thread in loop_run(). */
	loop_block_signals(&sigs);
	rc = fs_start_committer(fs);
	if (rc) {
		pthread_sigmask(SIG_SETMASK, &sigs, NULL);
		log_msg("cannot start the commit thread: %s", strerror(-rc));
		goto out_unmount;
	}
	if (!fo.foreground)
		mr.ready_fd = ready_fd;
	start_mount_ready(&mr);
	pthread_sigmask(SIG_SETMASK, &sigs, NULL);

	lo.max_threads = fo.singlethread ? 1 : fo.max_threads;
	lo.max_idle = fo.max_idle_threads;
	lo.splice = !c.nosplice;
	rc = loop_run(se, &lo);
	if (rc)
		log_msg("cannot receive requests: %s", strerror(-rc));
	ret = rc != 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_fs:
	/* The session's destroy callback still uses fs: end it first. */
	fuse_session_destroy(se);
	fs_destroy(fs);
	goto out_args;
out_session:
	fuse_session_destroy(se);
out_args:
	free(fs);
	free(fo.mountpoint);
	free(c.store);
	free(c.mountpoint);
	free(c.readahead);
	free(c.max_write);
	fuse_opt_free_args(&args);
	return ret;
}
